// One shard of an in-process fuzz run, in its own process so that shards use every core:
//   node --import tsx test/helpers/fuzz-shard.ts <kafka|http|bullmq> <cases> <seed>
// Prints one JSON line `{"shard": {...}}` with the figures and the span audit; exits 1 with the
// counterexample (and fast-check's seed and path) on stderr when a property fails.

import { fuzzHttpCarrier, fuzzJobMetadataCarrier, fuzzKafkaCarrier, leakedContext, type FuzzFigures } from './carrier-fuzz.js';
import { setupAuditedTracing } from './span-audit.js';

/** What a shard reports. */
export interface ShardResult {
  carrier: string;
  seed: number;
  figures: FuzzFigures;
  spans: number;
  spansInSession: number;
  spansOpen: number;
  spanProblems: string[];
  leaked: string[];
}

const RUNNERS: Record<string, (cases: number, seed: number) => Promise<FuzzFigures>> = {
  kafka: fuzzKafkaCarrier,
  http: fuzzHttpCarrier,
  bullmq: fuzzJobMetadataCarrier,
};

async function main(): Promise<void> {
  const [carrier = '', casesText = '', seedText = ''] = process.argv.slice(2);
  const run = RUNNERS[carrier];
  if (run === undefined) throw new Error(`usage: fuzz-shard.ts <${Object.keys(RUNNERS).join('|')}> <cases> <seed>`);
  const tracing = setupAuditedTracing();
  const seed = Number(seedText);
  const figures = await run(Number(casesText), seed);
  const result: ShardResult = {
    carrier,
    seed,
    figures,
    spans: tracing.audit.ended,
    spansInSession: tracing.audit.inSession,
    spansOpen: tracing.open(),
    spanProblems: tracing.audit.problems,
    leaked: leakedContext(),
  };
  await tracing.shutdown();
  process.stdout.write(`${JSON.stringify({ shard: result })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
