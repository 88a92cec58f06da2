#!/usr/bin/env node
// Regenerates docs/session-view.png, the README's picture of the demo's session view.
//
//   node scripts/session-view-png.mjs [sessions.html]
//
// Without an argument it first runs the demo with one session (it needs what `npm run demo`
// needs, and uses Jaeger when one answers) into .cache/demo/readme-session.html. The screenshot
// is as tall as the page, measured by the page itself (#measure), so nothing is cut off.

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { dumpDom, ensureChromium, screenshot } from './chromium.mjs';
import { cacheRoot, isMain, repoRoot, runCli, ServiceError } from './lib/daemon.mjs';

const OUT = path.join(repoRoot, 'docs', 'session-view.png');
const WIDTH = 1400;

function runDemo(file) {
  console.log('running the demo (one session) for a fresh session view');
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join('examples', 'agents', 'demo.ts')], {
    cwd: repoRoot,
    env: { ...process.env, DEMO_SESSIONS: '1', DEMO_VIEW_PATH: file },
    stdio: 'inherit',
  });
  if (run.status !== 0) throw new ServiceError(`the demo failed (exit ${run.status}); no picture taken`);
}

async function main([given]) {
  const file = path.resolve(given ?? path.join(cacheRoot, 'demo', 'readme-session.html'));
  if (given === undefined) runDemo(file);
  const chromium = await ensureChromium();
  const url = pathToFileURL(file).href;
  const dom = await dumpDom(chromium, `${url}#measure`, { width: WIDTH, height: 900 });
  const measured = /<pre id="measurements"[^>]*>([^<]*)<\/pre>/.exec(dom)?.[1];
  if (measured === undefined) throw new ServiceError(`${file} did not lay itself out (no measurements); open it in a browser to see why`);
  const { height } = JSON.parse(measured.replace(/&quot;/g, '"').replace(/&amp;/g, '&'));
  await screenshot(chromium, url, OUT, { width: WIDTH, height });
  console.log(`wrote ${path.relative(process.cwd(), OUT)} (${WIDTH}x${height})`);
  return 0;
}

if (isMain(import.meta.url)) runCli(main);
