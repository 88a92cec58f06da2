/** BullMQ scenario (orchestrator side): bare, sessionTelemetry(), bullmq-otel, alternately. */
import { alternate } from '../lib/alternate.js';
import type { ScenarioResult } from '../lib/report.js';
import { throughputTable } from '../lib/throughput.js';

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
  const { rows, checks } = throughputTable(result, { name: 'bullmq', configs: CONFIGS, labels: LABELS, metrics: METRICS, barMetrics: ['endToEnd'] });
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
