// Scrapes a Prometheus endpoint as a Prometheus server would (GET /metrics) and parses the answer
// with the Prometheus project's own text parser (promparse/, github.com/prometheus/common/expfmt
// pinned in go.mod and go.sum), built once into .cache/metrics-promparse with this machine's Go.
// A stamp (the hash of the sources and the toolchain) skips the build when nothing changed.

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const sources = path.join(root, 'test', 'metrics', 'promparse');
const out = path.join(root, '.cache', 'metrics-promparse');
const binary = path.join(out, 'promparse');
const stampFile = path.join(out, 'stamp.json');

/** One series of a family, as the parser read it. */
export interface PromSample {
  labels: Record<string, string>;
  /** Counters and gauges. */
  value?: number;
  /** Histograms. */
  count?: number;
  sum?: number;
  buckets?: { le: string; count: number }[];
}

/** A metric family: its name as exposed (counters with `_total`), its TYPE and HELP, its series. */
export interface PromFamily {
  name: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  help: string;
  samples: PromSample[];
}

function goBinary(): string {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/local/go/bin', '/usr/lib/go/bin']) {
    const candidate = path.join(dir, 'go');
    if (dir !== '' && fs.existsSync(candidate)) return candidate;
  }
  throw new Error('Go (1.26 or newer, as test/metrics/promparse/go.mod says) is needed to build the exposition-format parser');
}

function goEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOMODCACHE: path.join(out, 'mod'),
    GOCACHE: path.join(out, 'build'),
    GOTOOLCHAIN: 'local',
    GOFLAGS: '-mod=readonly -buildvcs=false',
  };
}

function stampMatches(digest: string): boolean {
  try {
    return (JSON.parse(fs.readFileSync(stampFile, 'utf8')) as { hash?: string }).hash === digest && fs.existsSync(binary);
  } catch {
    return false;
  }
}

let built: string | undefined;

/** The parser's binary, built when missing or stale. */
export function promparse(): string {
  if (built !== undefined) return built;
  const go = goBinary();
  const version = execFileSync(go, ['env', 'GOVERSION'], { env: goEnv(), encoding: 'utf8' }).trim();
  const hash = createHash('sha256').update(version);
  for (const file of ['main.go', 'go.mod', 'go.sum']) hash.update(`\0${file}\0`).update(fs.readFileSync(path.join(sources, file)));
  const digest = hash.digest('hex');
  if (!stampMatches(digest)) {
    fs.mkdirSync(out, { recursive: true });
    const tmp = `${binary}.${process.pid}.tmp`;
    const result = spawnSync(go, ['build', '-o', tmp, '.'], { cwd: sources, env: goEnv(), encoding: 'utf8', timeout: 600_000 });
    if (result.status !== 0) throw new Error(`go build (test/metrics/promparse) failed:\n${result.stdout}\n${result.stderr}`);
    fs.renameSync(tmp, binary);
    fs.writeFileSync(stampFile, `${JSON.stringify({ hash: digest, toolchain: version, at: new Date().toISOString() }, null, 2)}\n`);
  }
  built = binary;
  return binary;
}

/** Parses exposition text; throws with the parser's message when the text is not valid. */
function parseExposition(text: string): PromFamily[] {
  const result = spawnSync(promparse(), [], { input: text, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`the exposition is not valid Prometheus text: ${result.stderr}`);
  return JSON.parse(result.stdout) as PromFamily[];
}

/** GET `url` (a /metrics endpoint) and parse it; also returns the raw text and content type. */
export async function scrape(url: string): Promise<{ text: string; contentType: string | null; families: PromFamily[] }> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`scrape of ${url} answered ${response.status}`);
  const text = await response.text();
  return { text, contentType: response.headers.get('content-type'), families: parseExposition(text) };
}

/** Waits until `url` answers (the exporter listens asynchronously after init); polls, no timing assertion. */
export async function waitForEndpoint(url: string, attempts = 100): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    try {
      const response = await fetch(url);
      await response.text();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} never answered`);
}

/** The family named `name`, or a test failure naming what was there. */
export function family(families: readonly PromFamily[], name: string): PromFamily {
  const found = families.find((f) => f.name === name);
  if (found === undefined) throw new Error(`no family ${name}; scraped: ${families.map((f) => f.name).join(', ')}`);
  return found;
}

/** The series of `f` whose labels include every pair of `labels`. */
export function series(f: PromFamily, labels: Record<string, string>): PromSample[] {
  return f.samples.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}
