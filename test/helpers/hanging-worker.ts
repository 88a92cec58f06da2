// A BullMQ worker process that takes one job and hangs on it, for a test to SIGKILL:
//   node --import tsx test/helpers/hanging-worker.ts <queue>
// Prints `PROCESSING <job id> <session id>` once the job runs in its session's context.

import { Worker } from 'bullmq';
import { sessionTelemetry } from '../../adapters/bullmq/index.js';
import { getSessionId } from '../../src/index.js';
import { connection } from '../bullmq/helpers.js';
import { setupAuditedTracing } from './span-audit.js';

const [queueName] = process.argv.slice(2);
if (queueName === undefined) throw new Error('usage: hanging-worker.ts <queue>');
setupAuditedTracing();
const worker = new Worker(
  queueName,
  async (job) => {
    process.stdout.write(`PROCESSING ${job.id} ${getSessionId() ?? 'none'}\n`);
    await new Promise(() => undefined);
  },
  // Short locks, so that the job is seen as stalled soon after this process dies.
  { connection: connection(), telemetry: sessionTelemetry(), lockDuration: 2000, stalledInterval: 1000 },
);
worker.on('error', (err) => process.stderr.write(`worker error: ${String(err)}\n`));
