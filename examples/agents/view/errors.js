// Runs first: any script error on the page (a parse error in page.js too) is written into the DOM,
// where the browser test reads it from Chromium's --dump-dom output.
window.__sessionViewErrors = [];
window.addEventListener('error', (event) => {
  window.__sessionViewErrors.push(String(event.message || event.error));
  let pre = document.getElementById('script-errors');
  if (!pre) {
    pre = document.createElement('pre');
    pre.id = 'script-errors';
    (document.body || document.documentElement).appendChild(pre);
  }
  pre.textContent = JSON.stringify(window.__sessionViewErrors);
});
