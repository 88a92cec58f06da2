// Lays out each session as a waterfall: one row per span, bars placed in percent of the session's
// duration on a shared axis, link curves drawn over the rows once the rows have their positions.
// With #measure in the URL it writes the laid-out geometry into the DOM for the browser test.
(() => {
  const COLOURS = ['#3b7ddd', '#2e9e6b', '#d9822b', '#8e5cc4', '#c94f7c', '#3aa3a8', '#7f8c2d', '#b5543a'];
  const SVG = 'http://www.w3.org/2000/svg';
  const sessions = JSON.parse(document.getElementById('session-data').textContent);
  const main = document.getElementById('sessions');

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      // Custom properties (--c, the service colour) only take effect through setProperty.
      if (key === 'style')
        for (const [k, v] of Object.entries(value))
          node.style.setProperty(
            k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`),
            v,
          );
      else if (key.startsWith('data-') || key === 'title' || key === 'href') node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) if (child !== undefined && child !== null) node.append(child);
    return node;
  }

  function fmtMs(ms) {
    return ms < 10 ? `${ms.toFixed(1)} ms` : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
  }

  /** A 1/2/5 step giving about eight ticks across the session. */
  function tickStep(duration) {
    const raw = duration / 8;
    const power = 10 ** Math.floor(Math.log10(raw || 1));
    return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || power;
  }

  function llmNote(llm) {
    const parts = [llm.model];
    if (llm.promptTokens !== undefined || llm.completionTokens !== undefined) {
      parts.push(`${llm.promptTokens ?? '?'} in / ${llm.completionTokens ?? '?'} out tok`);
    }
    if (llm.costUsd !== undefined) parts.push(`$${llm.costUsd.toFixed(4)}`);
    return parts.join(' · ');
  }

  function renderRow(row, duration, colour) {
    const left = (row.start / duration) * 100;
    const width = (row.duration / duration) * 100;
    const external = row.links.filter((l) => l.includes('/'));
    const label = el(
      'div',
      { className: 'label' },
      el('span', { className: 'svc', style: { '--c': colour } }, row.service),
      el(
        'span',
        { className: 'name', style: { paddingLeft: `${row.depth * 12}px` } },
        row.hop ? el('span', { className: 'hop', title: `crosses services over ${row.hop}` }, row.hop) : null,
        row.rejoined
          ? el('span', { className: 'rejoin', title: 'rejoined the session at its root, linked to its producer' }, 'rejoined')
          : null,
        row.name,
        el('span', { className: 'kind' }, row.kind),
        ...external.map((l) =>
          el('span', { className: 'link-external link-marker', 'data-from': l, 'data-to': row.spanId }, `↗ link ${l.slice(0, 8)}…`),
        ),
      ),
    );
    const bar = el('div', {
      className: `bar${row.error ? ' error' : ''}${row.hop ? ' crossing' : ''}`,
      style: { left: `${left}%`, width: `${width}%`, '--c': colour },
      title: `${row.service} · ${row.name} · ${fmtMs(row.duration)}`,
    });
    const noteText = [fmtMs(row.duration), row.llm ? llmNote(row.llm) : null].filter(Boolean).join(' · ');
    // Notes go right of the bar; left of it when the bar ends near the right edge; inside it
    // when the bar spans most of the axis.
    const [place, notePlace] =
      left + width <= 70
        ? ['', { left: `${left + width}%` }]
        : left >= 30
          ? ['', { right: `${100 - left}%`, paddingRight: '4px' }]
          : [' inside', { right: `${100 - left - width}%`, paddingRight: '4px' }];
    const note = el('div', { className: `note${row.llm ? ' llm' : ''}${place}`, style: notePlace }, noteText);
    const track = el('div', { className: 'track' }, bar, note);
    return el('div', { className: 'row', 'data-span-id': row.spanId }, label, track);
  }

  function renderAxis(duration) {
    const step = tickStep(duration);
    const ticks = el('div', { className: 'ticks' });
    for (let t = 0; t <= duration; t += step) {
      ticks.append(el('span', { className: 'tick', style: { left: `${(t / duration) * 100}%` } }, t === 0 ? '0' : fmtMs(t)));
    }
    return el('div', { className: 'axis' }, el('div', {}, ''), ticks);
  }

  /** Curves from each linked span's bar to the bar of the span that links to it. */
  function drawLinks(waterfall, session) {
    const box = waterfall.getBoundingClientRect();
    const rowOf = new Map([...waterfall.querySelectorAll('.row')].map((r) => [r.dataset.spanId, r]));
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'links');
    svg.setAttribute('width', String(box.width));
    svg.setAttribute('height', String(box.height));
    for (const row of session.rows) {
      for (const target of row.links) {
        const from = rowOf.get(target);
        if (!from) continue; // a span in another trace: marked in the label instead
        const a = from.querySelector('.bar').getBoundingClientRect();
        const b = rowOf.get(row.spanId).querySelector('.bar').getBoundingClientRect();
        const [x1, y1] = [a.left - box.left + Math.min(4, a.width / 2), a.top - box.top + a.height / 2];
        const [x2, y2] = [b.left - box.left, b.top - box.top + b.height / 2];
        // An elbow: down from the linked span, then across into the span that links to it.
        const path = document.createElementNS(SVG, 'path');
        path.setAttribute('d', `M ${x1} ${y1} C ${x1} ${y2}, ${x1} ${y2}, ${x2} ${y2}`);
        path.setAttribute('class', 'link-marker');
        path.dataset.from = target;
        path.dataset.to = row.spanId;
        path.dataset.ends = JSON.stringify([x1, y1, x2, y2]);
        const dot = document.createElementNS(SVG, 'circle');
        Object.entries({ cx: x2, cy: y2, r: 2.5 }).forEach(([k, v]) => dot.setAttribute(k, String(v)));
        svg.append(path, dot);
      }
    }
    waterfall.append(svg);
  }

  function renderSession(session) {
    const services = [...new Set(session.rows.map((r) => r.service))];
    const colourOf = new Map(services.map((s, i) => [s, COLOURS[i % COLOURS.length]]));
    const llmRows = session.rows.filter((r) => r.llm);
    const tokens = llmRows.reduce((n, r) => n + (r.llm.promptTokens || 0) + (r.llm.completionTokens || 0), 0);
    const title = session.traceUrl ? el('a', { href: session.traceUrl }, session.id) : session.id;
    const waterfall = el(
      'div',
      { className: 'waterfall' },
      renderAxis(session.duration),
      ...session.rows.map((r) => renderRow(r, session.duration, colourOf.get(r.service))),
    );
    const section = el(
      'section',
      { className: 'session', 'data-session-id': session.id },
      el('h2', {}, 'session ', title),
      el(
        'div',
        { className: 'legend' },
        el('b', {}, `${session.rows.length} spans · ${fmtMs(session.duration)} · ${llmRows.length} LLM calls, ${tokens} tokens`),
        ...services.map((s) =>
          el('span', { style: { '--c': colourOf.get(s) } }, `${s} ${session.rows.filter((r) => r.service === s).length}`),
        ),
      ),
      waterfall,
    );
    main.append(section);
    drawLinks(waterfall, session);
  }

  /** Geometry relative to each waterfall, for comparison with the trace backend's spans. */
  function measure() {
    const out = [...document.querySelectorAll('section.session')].map((section) => {
      const waterfall = section.querySelector('.waterfall');
      const box = waterfall.getBoundingClientRect();
      const track = section.querySelector('.row .track').getBoundingClientRect();
      return {
        id: section.dataset.sessionId,
        track: { left: track.left - box.left, width: track.width },
        rows: [...section.querySelectorAll('.row')].map((row) => {
          const bar = row.querySelector('.bar').getBoundingClientRect();
          const r = row.getBoundingClientRect();
          return {
            spanId: row.dataset.spanId,
            left: bar.left - box.left,
            width: bar.width,
            top: r.top - box.top,
            bottom: r.bottom - box.top,
          };
        }),
        links: [...section.querySelectorAll('.link-marker')].map((m) => ({
          from: m.dataset.from,
          to: m.dataset.to,
          ends: m.dataset.ends ? JSON.parse(m.dataset.ends) : null,
        })),
      };
    });
    const pre = el('pre', { id: 'measurements', hidden: true });
    pre.textContent = JSON.stringify({ height: document.documentElement.scrollHeight, sessions: out });
    document.body.append(pre);
  }

  sessions.forEach(renderSession);
  if (location.hash === '#measure') measure();
})();
