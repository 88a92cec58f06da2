/**
 * HTTP scenario (orchestrator side): per framework, one server process per configuration, all
 * pinned to core 1 and kept alive for the whole scenario; autocannon in a fresh process pinned to
 * core 0 for each round. After a warm-up of every server, the rounds run the configurations
 * alternately (bare, context-only, ours, ours-adopt, contrib, bare, ...), so that drifts of the machine spread
 * over all of them.
 */
import { randomBytes } from 'node:crypto';
import { BenchChild, runToEnd } from '../lib/child.js';
import type { Check, ScenarioResult } from '../lib/report.js';
import { fmt, fmtRange, fmtRatio, pairedRatio, summarize, type Summary } from '../lib/stats.js';

/** Settings of the HTTP scenario. */
export interface HttpSettings {
  node: string;
  rounds: number;
  /** Seconds per measured round. */
  duration: number;
  /** Seconds of unmeasured load per server before the rounds. */
  warmup: number;
  connections: number;
  /** Cores for the server and the load generator; undefined = unpinned. */
  serverCpu: number | undefined;
  loadCpu: number | undefined;
  frameworks: string[];
  /** Extra Node flags for the server processes (`--cpu-prof ...` with --profile). */
  serverFlags: string[];
  log(message: string): void;
}

const CONFIGS = ['bare', 'context-only', 'ours', 'ours-adopt', 'contrib'] as const;
type Config = (typeof CONFIGS)[number];

const LABELS: Record<string, Record<Config, string>> = {
  express: {
    bare: 'bare Express 5',
    'context-only': 'floor: AsyncLocalStorage + context.with per request, no span',
    ours: 'ours: sessionMiddleware, own SERVER span',
    'ours-adopt': 'ours: sessionMiddleware adopting instrumentation-http',
    contrib: 'contrib: instrumentation-http + instrumentation-express',
  },
  fastify: {
    bare: 'bare Fastify 5',
    'context-only': 'floor: AsyncLocalStorage + context.with in onRequest, no span',
    ours: 'ours: sessionPlugin, own SERVER span',
    'ours-adopt': 'ours: sessionPlugin adopting instrumentation-http',
    contrib: 'contrib: instrumentation-http + @fastify/otel',
  },
};

/** The bar of the issue: [min share of bare, min multiple of contrib]. */
const BAR: Record<string, [number, number]> = { express: [0.85, 1.6], fastify: [0.65, 2] };

interface LoadResult {
  rps: number;
  p99: number;
  p50: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** A caller inside a session, as an internal peer sends it (loopback is trusted by default). */
function sessionHeaders(): Record<string, string> {
  const traceId = randomBytes(16).toString('hex');
  const root = randomBytes(8).toString('hex');
  return {
    traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-03`,
    baggage: `agentops.session.id=${traceId};root=${root};flags=03`,
  };
}

async function load(settings: HttpSettings, port: number, duration: number, headers: Record<string, string>): Promise<LoadResult> {
  const out = await runToEnd(
    {
      node: settings.node,
      script: 'bench/scenarios/loadgen.mjs',
      args: [JSON.stringify({ url: `http://127.0.0.1:${port}/hello`, connections: settings.connections, duration, headers })],
      cpu: settings.loadCpu,
    },
    (duration + 30) * 1000,
  );
  const result = JSON.parse(out.trim().split('\n').pop() as string) as LoadResult;
  if (result.errors > 0 || result.non2xx > 0 || result.total === 0) {
    throw new Error(`load on port ${port}: ${result.total} requests, ${result.non2xx} non-2xx, ${result.errors} errors`);
  }
  return result;
}

interface Usage {
  cpuMicros: number;
  requests: number;
}

interface ConfigData {
  label: string;
  /** Server CPU time (user + system) per request served, µs. */
  cpuPerRequest: number[];
  processor: string;
  instrumentations: string[];
  rps: number[];
  p99: number[];
  exportedSpans: number;
}

async function runFramework(framework: string, settings: HttpSettings): Promise<Record<Config, ConfigData>> {
  const servers = new Map<Config, { child: BenchChild; port: number; data: ConfigData }>();
  try {
    for (const config of CONFIGS) {
      const child = new BenchChild(`${framework}/${config}`, {
        node: settings.node,
        script: 'bench/scenarios/http-server.ts',
        args: [framework, config],
        nodeFlags: settings.serverFlags,
        cpu: settings.serverCpu,
      });
      const info = (await child.ready) as { port: number; processor: string; instrumentations: string[]; pid: number };
      if (settings.serverFlags.length > 0) settings.log(`  ${framework}/${config}: server pid ${info.pid}`);
      servers.set(config, {
        child,
        port: info.port,
        data: { label: LABELS[framework]![config], processor: info.processor, instrumentations: info.instrumentations, rps: [], p99: [], cpuPerRequest: [], exportedSpans: 0 },
      });
    }
    const headers = sessionHeaders();
    for (const config of CONFIGS) await load(settings, servers.get(config)!.port, settings.warmup, headers);
    for (let round = 0; round < settings.rounds; round++) {
      // Rotate the starting configuration too, so that none always follows the same neighbour.
      const order = CONFIGS.map((_, i) => CONFIGS[(i + round) % CONFIGS.length] as Config);
      const line: string[] = [];
      for (const config of order) {
        const server = servers.get(config)!;
        const before = await server.child.call<Usage>('usage');
        const r = await load(settings, server.port, settings.duration, headers);
        const after = await server.child.call<Usage>('usage');
        server.data.rps.push(r.rps);
        server.data.p99.push(r.p99);
        server.data.cpuPerRequest.push((after.cpuMicros - before.cpuMicros) / Math.max(1, after.requests - before.requests));
        line.push(`${config} ${fmt(r.rps)}`);
      }
      settings.log(`  ${framework} round ${round + 1}/${settings.rounds}: ${line.join(', ')} req/s`);
    }
    for (const config of CONFIGS) {
      const server = servers.get(config)!;
      server.data.exportedSpans = (await server.child.call<{ exported: number }>('stats')).exported;
      if (config !== 'bare' && config !== 'context-only' && server.data.exportedSpans === 0) throw new Error(`${framework}/${config} exported no span: the configuration did not trace`);
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.child.close()));
  }
  const out = {} as Record<Config, ConfigData>;
  for (const config of CONFIGS) out[config] = servers.get(config)!.data;
  return out;
}

/** Runs the HTTP scenario for each framework. */
export async function runHttp(settings: HttpSettings): Promise<ScenarioResult> {
  const rows: string[][] = [];
  const checks: Check[] = [];
  const data: Record<string, unknown> = {};
  for (const framework of settings.frameworks) {
    settings.log(`http: ${framework}, ${settings.rounds} rounds x ${CONFIGS.length} configurations x ${settings.duration} s`);
    const configs = await runFramework(framework, settings);
    const bare = summarize(configs.bare.rps);
    const contrib = summarize(configs.contrib.rps);
    const bareCpu = summarize(configs.bare.cpuPerRequest);
    const summaries: Record<string, { rps: Summary; p99: Summary; cpu: Summary }> = {};
    for (const config of CONFIGS) {
      const c = configs[config];
      const rps = summarize(c.rps);
      const p99 = summarize(c.p99);
      const cpu = summarize(c.cpuPerRequest);
      summaries[config] = { rps, p99, cpu };
      const vsBare = rps.median / bare.median;
      const paired = pairedRatio(c.rps, configs.bare.rps);
      const vsContrib = rps.median / contrib.median;
      rows.push([
        framework,
        c.label,
        c.processor,
        fmtRange(rps),
        config === 'bare' ? '1.00x' : `${fmtRatio(vsBare)} (${fmtRatio(paired.min)}..${fmtRatio(paired.max)})`,
        config === 'contrib' || config === 'bare' || config === 'context-only' ? '' : fmtRatio(vsContrib),
        `${fmt(p99.median)} (${fmt(p99.min)}..${fmt(p99.max)})`,
        fmtRange(cpu),
        config === 'bare' ? '1.00x' : fmtRatio(bareCpu.median / cpu.median),
      ]);
    }
    const [minBare, minContrib] = BAR[framework]!;
    for (const config of ['ours', 'ours-adopt'] as const) {
      const rps = summaries[config]!.rps.median;
      const label = config === 'ours' ? 'own span' : 'adopting instrumentation-http';
      checks.push({ what: `${framework}, ours (${label}) / bare`, target: `>= ${minBare}`, measured: fmtRatio(rps / bare.median), pass: rps / bare.median >= minBare });
    }
    const ours = summaries.ours!.rps.median;
    checks.push({ what: `${framework}, ours (own span) / contrib`, target: `>= ${minContrib}x`, measured: fmtRatio(ours / contrib.median), pass: ours / contrib.median >= minContrib });
    data[framework] = { configs, summaries };
  }
  return {
    title: 'HTTP: hello-world JSON route, requests/s',
    notes: [
      `autocannon, ${settings.connections} connections, ${settings.duration} s per round, ${settings.rounds} rounds per configuration run alternately after a ${settings.warmup} s warm-up of each server`,
      settings.serverCpu !== undefined ? `server process pinned to core ${settings.serverCpu}, load generator to core ${settings.loadCpu} (taskset)` : 'not pinned (taskset unavailable or one core)',
      'every request carries a traceparent and the session baggage entry of an internal (loopback, trusted) caller',
      'req/s: median (min..max) of the rounds; vs bare: ratio of medians (per-round paired ratios min..max); p99 latency in ms',
      "server CPU µs/req: the server process's CPU time (user + system) per request served in the round, robust to a busy machine; bare CPU / CPU: the throughput share a CPU-bound server would keep",
      'ours: init({ exporters: [noop] }) = SessionSpanProcessor + our CountingExportQueue; contrib: NodeTracerProvider + BatchSpanProcessor; the same no-op exporter for both',
    ],
    table: { columns: ['framework', 'configuration', 'span processor', 'req/s', 'vs bare', 'vs contrib', 'p99 ms', 'server CPU µs/req', 'bare CPU / CPU'], rows },
    checks,
    data,
  };
}
