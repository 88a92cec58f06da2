/** BullMQ scenario (orchestrator side): bare, sessionTelemetry(), bullmq-otel, alternately. */
import { alternate } from '../lib/alternate.js';
import type { Check, ScenarioResult } from '../lib/report.js';
import { fmt, fmtRange, fmtRatio, pairedRatio, summarize } from '../lib/stats.js';

/** Settings of the BullMQ scenario. */
export interface BullmqSettings {
  node: string;
  rounds: number;
  jobs: number;
  concurrency: number;
  /** Extra Node flags for the workers. */
  nodeFlags: string[];
  log(message: string): void;
}

const CONFIGS = ['bare', 'ours', 'contrib'] as const;
const LABELS: Record<string, string> = {
  bare: 'bare BullMQ 5',
  ours: 'ours: sessionTelemetry()',
  contrib: 'contrib: bullmq-otel',
};
const METRICS: Record<string, string> = {
  endToEnd: 'jobs/s, add to completion',
  add: 'addBulk jobs/s (worker running)',
};

export async function runBullmq(settings: BullmqSettings): Promise<ScenarioResult> {
  settings.log(`bullmq: ${settings.rounds} rounds x ${CONFIGS.length} configurations, ${settings.jobs} jobs per round`);
  const result = await alternate({
    node: settings.node,
    script: 'bench/scenarios/bullmq-worker.ts',
    configs: CONFIGS,
    rounds: settings.rounds,
    warmupRounds: 1,
    roundArgs: { jobs: settings.jobs, concurrency: settings.concurrency },
    log: settings.log,
    label: 'bullmq',
    nodeFlags: settings.nodeFlags,
  });
  const rows: string[][] = [];
  const checks: Check[] = [];
  for (const [metric, label] of Object.entries(METRICS)) {
    const bare = result.samples.bare![metric]!;
    const bareMedian = summarize(bare).median;
    const contribMedian = summarize(result.samples.contrib![metric]!).median;
    for (const config of CONFIGS) {
      const samples = result.samples[config]![metric]!;
      const s = summarize(samples);
      const paired = pairedRatio(samples, bare);
      rows.push([
        label,
        LABELS[config]!,
        result.processor[config]!,
        fmtRange(s),
        config === 'bare' ? '1.00x' : `${fmtRatio(s.median / bareMedian)} (${fmtRatio(paired.min)}..${fmtRatio(paired.max)})`,
        config === 'ours' ? fmtRatio(s.median / contribMedian) : '',
        config === 'bare' ? '' : fmt(1e6 / s.median - 1e6 / bareMedian),
      ]);
      if (config === 'ours' && metric === 'endToEnd') checks.push({ what: `bullmq ${label}: ours / bare`, target: '>= 0.90', measured: fmtRatio(s.median / bareMedian), pass: s.median / bareMedian >= 0.9 });
    }
  }
  return {
    title: 'BullMQ (real Redis): jobs/s through one queue and worker',
    notes: [
      `${settings.rounds} rounds (after one warm-up round) per configuration, alternating; each round: a new queue, a Worker with concurrency ${settings.concurrency} and a no-op processor, ${settings.jobs} jobs added with addBulk in chunks of 100 while it runs`,
      'ours adds inside a session, contrib inside an active span; each configuration in its own process; Redis on the same 2 cores, not pinned',
    ],
    table: { columns: ['metric', 'configuration', 'span processor', 'median (min..max)', 'vs bare', 'vs contrib', 'µs added per job'], rows },
    checks,
    data: result,
  };
}
