/**
 * The HTTP load generator: wrk (C, one thread), from Debian's `wrk` package, installed on first
 * use like the service scripts install what they need. A Node load generator saturates its own
 * core near 20k requests/s, below what bare Fastify serves: it would flatter every slow row.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../lua/sessions.lua', import.meta.url));

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Installs wrk with apt-get when missing (as root, or through passwordless sudo); else explains. */
export async function ensureWrk(log: (message: string) => void): Promise<void> {
  if (has('wrk')) return;
  const { aptInstall, canAptInstall } = (await import('../../scripts/lib/apt.mjs')) as typeof import('../../scripts/lib/apt.mjs');
  if (!(await canAptInstall()))
    throw new Error('wrk is not installed. Debian/Ubuntu: sudo apt-get install -y wrk   (macOS: brew install wrk)');
  await aptInstall(['wrk'], { log });
  if (!has('wrk')) throw new Error('apt-get installed wrk but no wrk binary is on PATH');
}

/** One wrk run. */
export interface WrkSettings {
  url: string;
  connections: number;
  /** Seconds. */
  duration: number;
  /** Sessions file for bench/lua/sessions.lua. */
  sessions: string;
  /** Pin wrk to this core; undefined = unpinned. */
  cpu: number | undefined;
}

/** What a wrk run measured. */
export interface WrkResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export function runWrk(settings: WrkSettings): Promise<WrkResult> {
  const wrkArgs = [
    '-t1',
    `-c${settings.connections}`,
    `-d${settings.duration}s`,
    '--timeout',
    '10s',
    '-s',
    SCRIPT,
    settings.url,
    '--',
    settings.sessions,
  ];
  const [file, argv] = settings.cpu === undefined ? ['wrk', wrkArgs] : ['taskset', ['-c', String(settings.cpu), 'wrk', ...wrkArgs]];
  return new Promise((resolve, reject) => {
    const proc = spawn(file as string, argv as string[], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => (out += chunk));
    proc.on('error', reject);
    proc.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '));
      if (code !== 0 || line === undefined) {
        reject(new Error(`wrk exited with code ${code}:\n${out}`));
        return;
      }
      const r = JSON.parse(line.slice('BENCH_JSON '.length)) as Record<string, number>;
      const errors = r.connect! + r.read! + r.write! + r.status! + r.timeout!;
      resolve({
        requests: r.requests!,
        rps: r.requests! / (r.durationMicros! / 1e6),
        p50Ms: r.p50Micros! / 1000,
        p99Ms: r.p99Micros! / 1000,
        errors,
      });
    });
  });
}
