/** Orchestrator side of the propagator micro-benchmarks. */
import { BenchChild } from '../lib/child.js';
import type { Check, ScenarioResult } from '../lib/report.js';
import { fmtRange, fmtRatio, pairedRatio, summarize } from '../lib/stats.js';

/** Settings of the propagator scenario. */
export interface PropagatorSettings {
  node: string;
  rounds: number;
  timeMs: number;
  cpu: number | undefined;
  log(message: string): void;
}

interface TaskData {
  case: string;
  contender: string;
  opsPerSecond: number[];
}

const BASELINE = 'core W3C composite';

/** Runs the propagator micro-benchmarks in a child. */
export async function runPropagators(settings: PropagatorSettings): Promise<ScenarioResult> {
  settings.log(`propagators: ${settings.rounds} rounds x ${settings.timeMs} ms per task`);
  const child = new BenchChild('propagators', { node: settings.node, script: 'bench/scenarios/propagators.ts', cpu: settings.cpu });
  let tasks: TaskData[];
  try {
    await child.ready;
    tasks = await child.call<TaskData[]>('run', { rounds: settings.rounds, timeMs: settings.timeMs });
  } finally {
    await child.close();
  }
  const rows: string[][] = [];
  const checks: Check[] = [];
  for (const name of [...new Set(tasks.map((t) => t.case))]) {
    const group = tasks.filter((t) => t.case === name);
    const base = group.find((t) => t.contender === BASELINE)!;
    const baseMedian = summarize(base.opsPerSecond).median;
    for (const t of group) {
      const s = summarize(t.opsPerSecond);
      const paired = pairedRatio(t.opsPerSecond, base.opsPerSecond);
      rows.push([name, t.contender, fmtRange(s), `${fmtRatio(s.median / baseMedian)} (${fmtRatio(paired.min)}..${fmtRatio(paired.max)})`, `${(1e6 / s.median).toFixed(2)}`]);
      if (t.contender === 'ours' && name === 'traceparent + 3-entry baggage (session entry)') {
        checks.push({ what: 'inject+extract traceparent + session baggage: ours / core composite', target: '>= 3x', measured: fmtRatio(s.median / baseMedian), pass: s.median / baseMedian >= 3 });
      }
    }
  }
  return {
    title: 'Propagators: inject + extract, operations/s',
    notes: [
      `tinybench, ${settings.rounds} rounds, ${settings.timeMs} ms per task per round, every task once per round (alternating)`,
      'one operation = inject into a new plain object + extract from it (defaultTextMapSetter/Getter); contexts built beforehand',
      'ours injects a context carrying the session permit our outbound hops grant; B3 has no baggage, so with baggage it is composed with core W3CBaggagePropagator',
      'ours remembers recently parsed clean baggage headers (up to 256 of <= 2048 chars) and the serialized form of each immutable Baggage object: within a session every hop carries the same baggage. The cold-caches row builds a new Baggage with a value not seen recently for every operation (its context building is timed for every contender)',
      'ops/s: median (min..max); vs core: ratio of medians (per-round paired ratios min..max); µs/op from the median',
    ],
    table: { columns: ['carrier', 'propagator', 'ops/s', 'vs core composite', 'µs/op'], rows },
    checks,
    data: tasks,
  };
}
