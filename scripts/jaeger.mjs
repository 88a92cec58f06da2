#!/usr/bin/env node
// A local Jaeger v2 (in-memory storage, OTLP receivers, query API) for the demo and its test,
// without Docker: the pinned release is built once from the Go module proxy with the installed Go.
//
//   node scripts/jaeger.mjs start | stop | status
//
// Env: JAEGER_URL (query API, default http://127.0.0.1:16686; used as is when it answers, and a
// local Jaeger is only started for a loopback address), JAEGER_OTLP_URL (OTLP/HTTP base, default
// port 4318 on JAEGER_URL's host; OTLP/gRPC is started on the port below it), JAEGER_VERSION (Go
// module tag), JAEGER_START_TIMEOUT_MS, GO (explicit go binary).
//
// Everything lives in .cache/jaeger/: go/ (GOPATH and module cache), go-build/ (build cache),
// module/ (the private module that pins the release), bin/jaeger-<version>, config.yaml,
// logs/jaeger.log, jaeger.pid. Deleting .cache/jaeger/ forces a cold build.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import {
  cacheRoot,
  fileSize,
  isLoopbackHost,
  isMain,
  ownedPid,
  runCli,
  ServiceError,
  sleep,
  spawnDetached,
  stopOwned,
  tail,
  tcpAccepts,
  which,
  withLock,
} from './lib/daemon.mjs';

// Jaeger tags every release twice: v1.x for the Go module, v2.y for the v2 binary and image.
// v1.75.0 is Jaeger v2.12.0 (docker-compose.yml pins jaegertracing/jaeger:2.12.0 to match).
const JAEGER_VERSION = process.env.JAEGER_VERSION || 'v1.75.0';
const JAEGER_PACKAGE = 'github.com/jaegertracing/jaeger/cmd/jaeger';

const dir = path.join(cacheRoot, 'jaeger');
const paths = {
  gopath: path.join(dir, 'go'),
  gocache: path.join(dir, 'go-build'),
  module: path.join(dir, 'module'),
  binary: path.join(dir, 'bin', `jaeger-${JAEGER_VERSION}`),
  config: path.join(dir, 'config.yaml'),
  log: path.join(dir, 'logs', 'jaeger.log'),
  pid: path.join(dir, 'jaeger.pid'),
  lock: path.join(dir, 'start.lock'),
};
// A live pid is only treated as our Jaeger if its command line names our binary and config.
const PROCESS_MARKERS = [paths.binary, paths.config];

const defaultLog = (msg) => console.log(`[jaeger] ${msg}`);

/** Where the query API and the OTLP receivers are, and whether we may start Jaeger there. */
export function jaegerTarget(env = process.env) {
  const raw = env.JAEGER_URL?.trim() || 'http://127.0.0.1:16686';
  let query;
  let otlp;
  try {
    query = new URL(raw);
    otlp = new URL(env.JAEGER_OTLP_URL?.trim() || `${query.protocol}//${query.host.replace(/:\d+$/, '')}:4318`);
  } catch {
    throw new ServiceError(`cannot parse JAEGER_URL=${raw} / JAEGER_OTLP_URL=${env.JAEGER_OTLP_URL}`);
  }
  const host = query.hostname.replace(/^\[|\]$/g, '');
  const queryPort = Number(query.port || (query.protocol === 'https:' ? 443 : 80));
  const otlpHttpPort = Number(otlp.port || 4318);
  return {
    url: query.origin,
    otlpUrl: otlp.origin,
    host,
    queryPort,
    otlpHttpPort,
    // Jaeger's defaults put gRPC one below HTTP for both APIs (4317/4318, 16685/16686).
    otlpGrpcPort: otlpHttpPort - 1,
    queryGrpcPort: queryPort - 1,
    local: query.protocol === 'http:' && isLoopbackHost(host) && isLoopbackHost(otlp.hostname),
  };
}

/** Resolves { ok: true } when a Jaeger query API answers at url, else { ok: false, error }. */
export async function probeJaeger(url, timeoutMs = 2_000) {
  try {
    const response = await fetch(`${url}/api/services`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return { ok: false, error: `GET /api/services answered ${response.status}` };
    const body = await response.json().catch(() => undefined);
    return body && 'data' in body ? { ok: true } : { ok: false, error: 'GET /api/services is not a Jaeger answer' };
  } catch (err) {
    return { ok: false, error: err?.cause?.code ?? err?.message ?? String(err) };
  }
}

/** True once the pinned release has been built into .cache/jaeger/bin. */
export function jaegerBuilt() {
  return fs.existsSync(paths.binary);
}

/**
 * Makes sure a Jaeger answers at the target: uses a running one, else starts the built binary,
 * else (with build: true) builds it first. Returns { url, otlpUrl, started, stop }, or null when
 * build is false and nothing answers or is built.
 */
export async function ensureJaeger({ log = defaultLog, build = true } = {}) {
  const target = jaegerTarget();
  const handle = (started, pid) => ({
    url: target.url,
    otlpUrl: target.otlpUrl,
    started,
    pid,
    stop: started ? () => stopJaeger({ log }) : async () => false,
  });
  const first = await probeJaeger(target.url);
  if (first.ok) return handle(false);
  if (!target.local) {
    throw new ServiceError(
      `JAEGER_URL=${target.url} does not answer (${first.error}). ` +
        'A local Jaeger is only started for a plain http:// loopback address.',
    );
  }
  if (!build && !jaegerBuilt()) return null;

  return withLock(
    paths.lock,
    async () => {
      // Whoever held the lock before us may have just started it.
      if ((await probeJaeger(target.url)).ok) return handle(false);
      // One we started earlier that does not answer (wedged, or killed mid-start): replace it.
      if (ownedPid(paths.pid, PROCESS_MARKERS) !== null) await stopJaeger({ log });
      for (const port of [target.queryPort, target.otlpHttpPort]) {
        if (await tcpAccepts(target.host, port)) {
          throw new ServiceError(
            `something listens on ${target.host}:${port} but is not a Jaeger answering at ${target.url}. ` +
              'Stop it, or set JAEGER_URL / JAEGER_OTLP_URL to free ports.',
          );
        }
      }
      await buildJaeger(log);
      const pid = await startJaeger(target, log);
      return handle(true, pid);
    },
    { log },
  );
}

/** Stops the Jaeger this script started (if it still runs). Resolves true if it stopped one. */
export function stopJaeger({ log = defaultLog } = {}) {
  return stopOwned({ pidFile: paths.pid, markers: PROCESS_MARKERS, timeoutMs: 10_000, log });
}

/** Snapshot for `status`. */
export async function jaegerStatus() {
  const target = jaegerTarget();
  const probe = await probeJaeger(target.url);
  return {
    url: target.url,
    answering: probe.ok,
    error: probe.ok ? undefined : `${probe.error}${jaegerBuilt() ? '' : '; not built yet'}`,
    ownPid: ownedPid(paths.pid, PROCESS_MARKERS),
    built: jaegerBuilt(),
  };
}

// --- build -----------------------------------------------------------------------------------

function findGo() {
  if (process.env.GO) return which(process.env.GO);
  // Go's own installer puts it in /usr/local/go/bin, which non-login shells often lack on PATH.
  return which('go', ['/usr/local/go/bin', path.join(process.env.HOME ?? '/', 'go', 'bin'), '/opt/homebrew/bin']);
}

function missingGoHelp() {
  return [
    'Cannot build Jaeger: `go` not found (Go 1.24+ builds the pinned release from the Go module proxy).',
    '  Install Go:  https://go.dev/doc/install   (Debian/Ubuntu: apt-get install -y golang-go, if recent enough)',
    'Or use a Jaeger you already have:',
    '  docker compose up -d jaeger            # Jaeger v2 with its web UI on http://127.0.0.1:16686',
    '  JAEGER_URL=http://host:16686           # any Jaeger v2 (and JAEGER_OTLP_URL if OTLP is elsewhere)',
    'Without Jaeger, `npm run demo` checks its sessions against its own small OTLP collector.',
  ].join('\n');
}

/**
 * Builds the pinned release into .cache/jaeger/bin once. A plain `go install pkg@version` refuses
 * modules with replace directives, so a private module requires it as a tool and builds that.
 */
async function buildJaeger(log) {
  if (jaegerBuilt()) return;
  const go = findGo();
  if (!go) throw new ServiceError(missingGoHelp());

  fs.mkdirSync(paths.module, { recursive: true });
  fs.writeFileSync(
    path.join(paths.module, 'go.mod'),
    '// Generated by scripts/jaeger.mjs: pins the Jaeger release it builds.\nmodule local/jaeger-build\n\ngo 1.24\n',
  );
  fs.rmSync(path.join(paths.module, 'go.sum'), { force: true });
  const env = {
    ...process.env,
    // Module and build caches inside .cache/: one directory for CI to keep, one to delete.
    GOPATH: paths.gopath,
    GOMODCACHE: path.join(paths.gopath, 'pkg', 'mod'),
    GOCACHE: paths.gocache,
    // Writable module cache, so `rm -rf .cache` works; no VCS stamping of a generated module.
    GOFLAGS: `${process.env.GOFLAGS ?? ''} -modcacherw -buildvcs=false`.trim(),
    CGO_ENABLED: '0',
  };
  const scratch = `${paths.binary}.partial`;
  const started = Date.now();
  log(`building Jaeger ${JAEGER_VERSION} (v2) with ${go}: one-time, about 4 min on 2 cores when nothing is cached`);
  const progress = { phase: 'downloading modules', modules: 0, packages: 0 };
  const timer = setInterval(() => {
    const secs = Math.round((Date.now() - started) / 1000);
    log(`  … ${secs}s: ${progress.phase} (${progress.modules} modules downloaded, ${progress.packages} packages compiled)`);
  }, 15_000);
  try {
    await goStep(go, ['get', '-tool', `${JAEGER_PACKAGE}@${JAEGER_VERSION}`], env, (line) => {
      if (line.startsWith('go: downloading ')) progress.modules++;
    });
    progress.phase = 'compiling';
    fs.mkdirSync(path.dirname(paths.binary), { recursive: true });
    // -v names each package as it is compiled: the progress count.
    await goStep(go, ['build', '-v', '-trimpath', '-ldflags=-s -w', '-o', scratch, JAEGER_PACKAGE], env, () => {
      progress.packages++;
    });
  } finally {
    clearInterval(timer);
  }
  // Renamed only when complete: an interrupted build is never mistaken for a binary.
  fs.renameSync(scratch, paths.binary);
  const mb = (fs.statSync(paths.binary).size / 1e6).toFixed(0);
  log(`built ${path.relative(process.cwd(), paths.binary)} (${mb} MB) in ${((Date.now() - started) / 1000).toFixed(0)}s`);
}

/** Runs one go command in the private module, feeding each output line to onLine. */
function goStep(go, args, env, onLine) {
  return new Promise((resolve, reject) => {
    const child = spawn(go, args, { cwd: paths.module, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const last = [];
    const consume = (stream) =>
      readline.createInterface({ input: stream }).on('line', (line) => {
        onLine(line);
        last.push(line);
        if (last.length > 30) last.shift();
      });
    consume(child.stdout);
    consume(child.stderr);
    child.on('error', (err) => reject(new ServiceError(`could not run ${go}: ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new ServiceError(`go ${args.join(' ')} failed (exit ${code}):\n${last.join('\n')}`));
    });
  });
}

// --- run -------------------------------------------------------------------------------------

/** Jaeger v2 is an OpenTelemetry Collector distribution: this is a collector configuration. */
function configYaml(t) {
  return `# Generated by scripts/jaeger.mjs on each start; edits are overwritten.
# In-memory storage, OTLP in, query API out, everything on loopback.
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    # The collector's own metrics would take a fixed port (8888); nothing reads them here.
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memstore
    # Tracing its own queries would mix a "jaeger" service into the traces being checked.
    enable_tracing: false
    http:
      endpoint: ${t.host}:${t.queryPort}
    grpc:
      endpoint: ${t.host}:${t.queryGrpcPort}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${t.host}:${t.otlpGrpcPort}
      http:
        endpoint: ${t.host}:${t.otlpHttpPort}
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

async function startJaeger(target, log) {
  fs.writeFileSync(paths.config, configYaml(target));
  const logOffset = fileSize(paths.log);
  const started = Date.now();
  const { pid, exited } = spawnDetached({
    command: paths.binary,
    args: ['--config', `file:${paths.config}`],
    cwd: dir,
    logFile: paths.log,
    pidFile: paths.pid,
  });
  const timeoutMs = Number(process.env.JAEGER_START_TIMEOUT_MS || 60_000);
  let last = { ok: false, error: 'not probed yet' };
  while (Date.now() - started < timeoutMs) {
    const exit = exited();
    if (exit) {
      throw new ServiceError(
        `jaeger exited during start-up (${exit.error?.message ?? `code ${exit.code}, signal ${exit.signal}`})\n` +
          `--- ${paths.log}\n${tail(paths.log, { fromByte: logOffset })}`,
      );
    }
    last = await probeJaeger(target.url, 1_000);
    if (last.ok && (await tcpAccepts(target.host, target.otlpHttpPort))) {
      log(`jaeger pid ${pid} ready: query ${target.url}, OTLP ${target.otlpUrl} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
      return pid;
    }
    await sleep(200);
  }
  await stopJaeger({ log });
  throw new ServiceError(
    `jaeger did not answer within ${timeoutMs / 1000}s (last error: ${last.error}); stopped it.\n` +
      `--- ${paths.log}\n${tail(paths.log, { fromByte: logOffset })}`,
  );
}

// --- CLI -------------------------------------------------------------------------------------

async function main([command]) {
  switch (command) {
    case 'start': {
      const t0 = Date.now();
      const jaeger = await ensureJaeger();
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      console.log(
        jaeger.started
          ? `Jaeger ready at ${jaeger.url} (OTLP ${jaeger.otlpUrl}), in ${secs}s`
          : `Jaeger already answers at ${jaeger.url}; nothing to do`,
      );
      return 0;
    }
    case 'stop':
      console.log((await stopJaeger()) ? 'Jaeger stopped' : 'no Jaeger started by this script is running');
      return 0;
    case 'status': {
      const s = await jaegerStatus();
      const owner = s.ownPid ? `started by this script, pid ${s.ownPid}` : 'not started by this script';
      console.log(s.answering ? `Jaeger answers at ${s.url} (${owner})` : `Jaeger does not answer at ${s.url}: ${s.error}`);
      return s.answering ? 0 : 1;
    }
    default:
      console.error('usage: node scripts/jaeger.mjs start|stop|status');
      return 2;
  }
}

if (isMain(import.meta.url)) runCli(main);
