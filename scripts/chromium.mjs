// Headless Chromium without an npm driver: the session view's browser test reads the DOM a page
// leaves behind (--dump-dom), and scripts/session-view-png.mjs takes a screenshot (--screenshot).
// Chromium comes from Debian's packages, installed on first use like redis-server.
//
// Env: CHROMIUM_BIN (explicit binary).

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { aptInstall, canAptInstall } from './lib/apt.mjs';
import { ServiceError, which } from './lib/daemon.mjs';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];

function findChromium() {
  if (process.env.CHROMIUM_BIN) return which(process.env.CHROMIUM_BIN);
  for (const name of NAMES) {
    const found = which(name, ['/usr/bin', '/usr/local/bin']);
    if (found) return found;
  }
  return null;
}

/** The Chromium binary, installing Debian's `chromium` package when there is none. */
export async function ensureChromium({ log = (m) => console.log(`[chromium] ${m}`) } = {}) {
  const found = findChromium();
  if (found) return found;
  if (!(await canAptInstall())) {
    throw new ServiceError(
      'Chromium is not installed and apt-get cannot install it here.\n' +
        '  Debian/Ubuntu: sudo apt-get install -y chromium   (or set CHROMIUM_BIN to a Chrome/Chromium binary)',
    );
  }
  await aptInstall(['chromium'], { log });
  const installed = findChromium();
  if (!installed) throw new ServiceError('apt-get installed chromium but no chromium binary was found');
  return installed;
}

/**
 * Runs headless Chromium once on `url` with `extraArgs`; resolves its stdout. Each run gets a
 * fresh profile and nothing that phones home, so runs neither share state nor wait on a network.
 */
async function runHeadless(binary, url, extraArgs, { width = 1400, height = 900, timeoutMs = 60_000 } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'agentops-chromium-'));
  try {
    const { stdout } = await promisify(execFile)(
      binary,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--hide-scrollbars',
        `--user-data-dir=${profile}`,
        `--window-size=${width},${height}`,
        ...extraArgs,
        url,
      ],
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
    );
    return stdout;
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/** The DOM after the page's scripts ran (serialised by Chromium). */
export function dumpDom(binary, url, size) {
  return runHeadless(binary, url, ['--dump-dom'], size);
}

/** Writes a PNG of the page's viewport (width x height) to `file`. */
export async function screenshot(binary, url, file, size) {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  await runHeadless(binary, url, [`--screenshot=${path.resolve(file)}`], size);
  if (!fs.existsSync(file)) throw new ServiceError(`chromium did not write ${file}`);
}
