/** BullMQ scenario (orchestrator side): bare, the reference, sessionTelemetry(), bullmq-otel. */
import { runMessaging, type MessagingSettings } from '../lib/messaging-scenario.js';
import type { ScenarioResult } from '../lib/report.js';

/** Settings of the BullMQ scenario. */
export interface BullmqSettings extends MessagingSettings {
  jobs: number;
  concurrency: number;
}

export function runBullmq(settings: BullmqSettings): Promise<ScenarioResult> {
  return runMessaging(settings, {
    name: 'bullmq',
    title: 'BullMQ (real Redis): CPU per job, add to completion',
    script: 'bench/scenarios/bullmq-worker.ts',
    unit: 'job',
    labels: {
      bare: 'bare BullMQ 5',
      hand: 'hand-written reference: context in the job data, one CONSUMER span per job (bench/reference/bullmq.ts)',
      ours: 'ours: sessionTelemetry()',
      'ours-metrics': 'ours, metrics on (a collecting MetricReader)',
      contrib: 'contrib: bullmq-otel',
    },
    metrics: { endToEnd: 'add to completion' },
    roundArgs: { jobs: settings.jobs, concurrency: settings.concurrency },
    notes: [
      `each round: a new queue, a Worker with concurrency ${settings.concurrency} and a no-op processor, ${settings.jobs} jobs added with addBulk in chunks of 10 while it runs, each chunk from the next of ${settings.sessions} sessions (a root span with the session baggage entry for the SDK rows)`,
      'Redis on the same machine, unpinned',
    ],
    contribTargets: { endToEnd: 1 },
    handTargets: {},
  });
}
