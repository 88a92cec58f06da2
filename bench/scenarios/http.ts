/**
 * HTTP scenario (orchestrator side): per framework, `processes` server processes per
 * configuration (and build), pinned to core 1 and kept alive for the whole scenario, round r
 * measuring process r mod `processes` (identical processes differ by several µs per request, for
 * good); wrk pinned to core 0, one run per row and round. A row is a server plus the callers' header set (ours serves both the sampled
 * and the unsampled rows). After a warm-up of every row, the rounds run the rows alternately, the
 * first one rotating, so that drifts of the machine spread over all of them and each round's
 * rows can be paired.
 */
import { BenchChild } from '../lib/child.js';
import { growthPerMillion } from '../lib/heap.js';
import { processOf, rowOfProcess } from '../lib/processes.js';
import { costCells, costColumns, costs, type Cost } from '../lib/costs.js';
import type { Build } from '../lib/build.js';
import type { Check, ScenarioResult } from '../lib/report.js';
import type { HeaderSet } from '../lib/sessions.js';
import { fmt, fmtRange, fmtRatio, summarize } from '../lib/stats.js';
import { runWrk } from '../lib/wrk.js';

/** Settings of the HTTP scenario. */
export interface HttpSettings {
  node: string;
  build: Build;
  baseline: Build | undefined;
  rounds: number;
  /** Seconds per measured round. */
  duration: number;
  /** Seconds of unmeasured load per row before the rounds. */
  warmup: number;
  connections: number;
  /** Session files per header set (bench/lib/sessions.ts). */
  sessionFiles: Record<HeaderSet, string>;
  /** Sessions per header set. */
  sessions: number;
  /** Cores for the server and the load generator; undefined = unpinned. */
  serverCpu: number | undefined;
  loadCpu: number | undefined;
  frameworks: string[];
  /** Extra Node flags for the server processes (`--cpu-prof ...` with --profile). */
  serverFlags: string[];
  /** Server processes per row: round r measures process r mod this (identical processes differ by several µs per request). */
  processes: number;
  log(message: string): void;
}

interface Row {
  key: string;
  label: string;
  /** http-server.ts configuration. */
  config: string;
  baseline: boolean;
  headers: HeaderSet;
}

const NAMES: Record<string, { bare: string; ours: string; contrib: string }> = {
  express: { bare: 'bare Express 5', ours: 'sessionMiddleware', contrib: 'instrumentation-http + instrumentation-express' },
  fastify: { bare: 'bare Fastify 5', ours: 'sessionPlugin', contrib: 'instrumentation-http + @fastify/otel' },
};

function rows(framework: string, baseline: Build | undefined): Row[] {
  const n = NAMES[framework]!;
  const row = (key: string, label: string, config: string, headers: HeaderSet = 'plain', isBaseline = false): Row => ({
    key,
    label,
    config,
    headers,
    baseline: isBaseline,
  });
  return [
    row('bare', n.bare, 'bare'),
    row('floor', 'floor: AsyncLocalStorage + context.with per request, no span', 'floor'),
    row('hand', 'hand-written reference: W3C propagators + one SDK SERVER span (bench/reference/http.ts)', 'hand'),
    row('ours', `ours: ${n.ours}, own SERVER span`, 'ours'),
    row('ours-metrics', `ours, metrics on (a collecting MetricReader)`, 'ours-metrics'),
    ...(baseline !== undefined ? [row('ours-baseline', `ours (baseline ${baseline.name})`, 'ours', 'plain', true)] : []),
    row('ours-unsampled', `ours, unsampled caller (flags 00, parent-based sampler)`, 'ours', 'unsampled'),
    row('ours-signed', `ours, signed entries (init({ signingKey }))`, 'ours-signed', 'signed'),
    row('ours-adopt', `ours: ${n.ours} adopting instrumentation-http`, 'ours-adopt'),
    row('contrib', `contrib: ${n.contrib}`, 'contrib'),
  ];
}

interface Server {
  child: BenchChild;
  port: number;
  processor: string;
  heapBefore?: { heapBytes: number; requests: number };
}

interface Usage {
  cpuMicros: number;
  requests: number;
}

interface RowData {
  cpu: number[];
  rps: number[];
  p99: number[];
}

const serverKey = (row: Row) => `${row.config}${row.baseline ? '@baseline' : ''}`;
/** The server process a row is measured on in `round`. */
const processKey = (row: Row, round: number, settings: HttpSettings) => processOf(serverKey(row), round, settings.processes);

/** Starts each row's server processes once, into `servers` (which the caller closes, even on a failure). */
async function startServers(servers: Map<string, Server>, framework: string, list: Row[], settings: HttpSettings): Promise<void> {
  for (let i = 0; i < settings.processes; i++) {
    for (const row of list) {
      const key = processKey(row, i, settings);
      if (servers.has(key)) continue;
      const child = new BenchChild(`${framework}/${key}`, {
        node: settings.node,
        script: 'bench/scenarios/http-server.ts',
        args: [framework, row.config],
        nodeFlags: ['--expose-gc', ...settings.serverFlags],
        cpu: settings.serverCpu,
        build: row.baseline ? settings.baseline!.dir : settings.build.dir,
      });
      servers.set(key, { child, port: 0, processor: '' });
      const info = (await child.ready) as { port: number; processor: string; pid: number };
      Object.assign(servers.get(key)!, { port: info.port, processor: info.processor });
      if (settings.serverFlags.length > 0) settings.log(`  ${framework}/${key}: server pid ${info.pid}`);
    }
  }
}

/** One wrk run against a row's server; returns the server's CPU µs per request with wrk's figures. */
async function measure(server: Server, row: Row, seconds: number, settings: HttpSettings) {
  const before = await server.child.call<Usage>('usage');
  const r = await runWrk({
    url: `http://127.0.0.1:${server.port}/hello`,
    connections: settings.connections,
    duration: seconds,
    sessions: settings.sessionFiles[row.headers],
    cpu: settings.loadCpu,
  });
  const after = await server.child.call<Usage>('usage');
  if (r.errors > 0 || r.requests === 0) throw new Error(`${row.key}: ${r.requests} requests, ${r.errors} errors (wrk)`);
  return { ...r, cpu: (after.cpuMicros - before.cpuMicros) / Math.max(1, after.requests - before.requests) };
}

async function runFramework(framework: string, settings: HttpSettings) {
  const list = rows(framework, settings.baseline);
  const servers = new Map<string, Server>();
  const data: Record<string, RowData> = Object.fromEntries(list.map((r) => [r.key, { cpu: [], rps: [], p99: [] }]));
  const heap: Record<string, { growthBytes: number; requests: number }> = {};
  const exported: Record<string, number> = {};
  try {
    await startServers(servers, framework, list, settings);
    for (let i = 0; i < settings.processes; i++)
      for (const row of list) await measure(servers.get(processKey(row, i, settings))!, row, settings.warmup, settings);
    for (const server of servers.values()) server.heapBefore = await server.child.call('heap');
    for (let round = 0; round < settings.rounds; round++) {
      const order = list.map((_, i) => list[(i + round) % list.length]!);
      const line: string[] = [];
      for (const row of order) {
        const m = await measure(servers.get(processKey(row, round, settings))!, row, settings.duration, settings);
        const d = data[row.key]!;
        d.cpu.push(m.cpu);
        d.rps.push(m.rps);
        d.p99.push(m.p99Ms);
        line.push(`${row.key} ${fmt(m.cpu)}`);
      }
      settings.log(`  ${framework} round ${round + 1}/${settings.rounds} (server CPU µs/request): ${line.join(', ')}`);
    }
    // Per row: the heap growth and exported spans of its processes added up.
    for (const [processName, server] of servers) {
      const key = rowOfProcess(processName);
      const after = await server.child.call<{ heapBytes: number; requests: number }>('heap');
      const total = (heap[key] ??= { growthBytes: 0, requests: 0 });
      total.growthBytes += after.heapBytes - server.heapBefore!.heapBytes;
      total.requests += after.requests - server.heapBefore!.requests;
      const spans = (await server.child.call<{ exported: number }>('stats')).exported;
      exported[key] = (exported[key] ?? 0) + spans;
      if (!['bare', 'floor'].includes(key) && spans === 0)
        throw new Error(`${framework}/${processName} exported no span: the configuration did not trace`);
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.child.close()));
  }
  const processors = Object.fromEntries([...servers].map(([k, s]) => [rowOfProcess(k), s.processor]));
  return { list, data, heap, exported, processors };
}

/** The targets of the performance issue, checked on every run so a regression shows at once. */
function targetChecks(framework: string, c: Record<string, Cost>): Check[] {
  const checks: Check[] = [];
  const check = (what: string, target: string, measured: number, limit: number, unit = 'x') =>
    checks.push({
      what: `${framework}: ${what}`,
      target,
      measured: unit === 'x' ? fmtRatio(measured) : `${fmt(measured)} ${unit}`,
      pass: measured <= limit,
    });
  for (const ours of ['ours', 'ours-metrics']) {
    check(`${ours} added CPU / hand-written reference`, '<= 1.1x', c[ours]!.vsHand, 1.1);
    check(`${ours} added CPU / contrib`, '<= 0.5x', c[ours]!.added.median / c.contrib!.added.median, 0.5);
  }
  check('ours, unsampled caller: added CPU over the floor', '<= 5 µs', c['ours-unsampled']!.added.median - c.floor!.added.median, 5, 'µs');
  check('ours, signed entries / unsigned (added CPU)', '<= 1.2x', c['ours-signed']!.added.median / c.ours!.added.median, 1.2);
  return checks;
}

/** Runs the HTTP scenario for each framework. */
export async function runHttp(settings: HttpSettings): Promise<ScenarioResult> {
  const table: string[][] = [];
  const memory: string[][] = [];
  const checks: Check[] = [];
  const data: Record<string, unknown> = {};
  for (const framework of settings.frameworks) {
    settings.log(
      `http: ${framework}, ${settings.rounds} rounds x ${rows(framework, settings.baseline).length} rows x ${settings.duration} s`,
    );
    const run = await runFramework(framework, settings);
    const c = costs(Object.fromEntries(Object.entries(run.data).map(([k, d]) => [k, d.cpu])));
    const bareRps = summarize(run.data.bare!.rps).median;
    for (const row of run.list) {
      const d = run.data[row.key]!;
      const rps = summarize(d.rps);
      table.push([
        framework,
        row.label,
        ...costCells(row.key, c[row.key]!),
        fmtRange(rps),
        fmtRatio(rps.median / bareRps),
        fmtRange(summarize(d.p99)),
      ]);
    }
    for (const [key, h] of Object.entries(run.heap)) {
      const perMillion = growthPerMillion(h.growthBytes, h.requests);
      memory.push([
        framework,
        key,
        h.requests.toLocaleString('en-US'),
        fmt(h.growthBytes / 2 ** 20),
        perMillion === undefined ? 'too few requests' : fmt(perMillion),
        run.exported[key]!.toLocaleString('en-US'),
      ]);
      if (key.startsWith('ours') && perMillion !== undefined)
        checks.push({
          what: `${framework}/${key}: heap growth per million requests`,
          target: '< 5 MB',
          measured: `${fmt(perMillion)} MB`,
          pass: perMillion < 5,
        });
    }
    checks.push(...targetChecks(framework, c));
    data[framework] = {
      rows: run.list,
      samples: run.data,
      costs: c,
      heap: run.heap,
      exportedSpans: run.exported,
      processors: run.processors,
    };
  }
  return {
    title: 'HTTP: hello-world JSON route, server CPU per request',
    notes: [
      `wrk (one thread, ${settings.connections} connections), ${settings.duration} s per row and round, ${settings.rounds} rounds run alternately (first row rotating) after a ${settings.warmup} s warm-up of each row's processes`,
      `${settings.processes} server process${settings.processes === 1 ? '' : 'es'} per row, round r on process r mod ${settings.processes}: two processes of the same configuration can differ by several µs per request for their whole life (measured: four identical Fastify processes at +14.1, +14.2, +14.6 and +20.0 µs), which one process per row would read as a difference between rows`,
      settings.serverCpu !== undefined
        ? `server processes pinned to core ${settings.serverCpu}, wrk to core ${settings.loadCpu} (taskset)`
        : 'not pinned (taskset unavailable or one core)',
      `every request: one of ${settings.sessions} sessions (trace id + baggage entry agentops.session.id/root/flags members) with a fresh random parent span id (bench/lua/sessions.lua); the unsampled row sends flags 00, the signed row entries signed by the library with the server's key`,
      "CPU µs/request: the server process's own CPU time (user + system) over the requests it served in the round: the primary figure; µs added: median of the per-round paired differences to bare; x hand: added CPU over the hand-written reference's",
      'ours: init({ exporters: [noop] }) = SessionSpanProcessor + CountingExportQueue; hand and contrib: NodeTracerProvider + BatchSpanProcessor; the same no-op exporter for all',
      ...(settings.baseline !== undefined
        ? [`ours (baseline): the same server and load on the build of ${settings.baseline.name}, in the same rounds`]
        : []),
    ],
    table: { columns: ['framework', 'row', ...costColumns('request'), 'req/s', 'req/s vs bare', 'p99 ms'], rows: table },
    extraTables: [
      {
        title: 'HTTP servers: heap after GC, before and after the measured rounds',
        columns: ['framework', 'server', 'requests', 'heap growth MB', 'growth per 1M requests MB', 'spans exported'],
        rows: memory,
      },
    ],
    checks,
    data,
  };
}
