// A million generated hostile carriers per transport, in-process, through each adapter's real
// wrapper (test/helpers/carrier-fuzz.ts says what every case checks). Each carrier's million runs
// as shards in child processes, one per core, with seeds printed for replay. The end-to-end run
// over the real transports is test/long/fuzz-e2e.test.ts.

import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { helperPath, inParallel, lastJson, runScript } from '../helpers/child.js';
import type { ShardResult } from '../helpers/fuzz-shard.js';
import { report } from '../helpers/report.js';

/** Carriers (header sets, metadata strings) generated and sent through a hop, per transport. */
const CARRIERS_PER_TRANSPORT = 1_000_000;
const SHARDS_PER_TRANSPORT = 2;
const CARRIERS = ['kafka', 'http', 'bullmq'] as const;
/**
 * Generated cases per transport: one carrier per case, except Kafka's eachBatch cases, which
 * hold one to three messages (1.49 carriers per case on average, over both modes).
 */
const CASES: Record<(typeof CARRIERS)[number], number> = { kafka: 700_000, http: CARRIERS_PER_TRANSPORT, bullmq: CARRIERS_PER_TRANSPORT };

async function runShard(carrier: string, cases: number, seed: number): Promise<ShardResult> {
  const run = await runScript(helperPath('fuzz-shard.ts'), [carrier, String(cases), String(seed)]);
  const result = lastJson<ShardResult>(run.stdout, 'shard');
  if (run.code !== 0 || result === undefined) {
    throw new Error(`${carrier} shard (seed ${seed}) failed with exit ${run.code}:\n${run.stderr.slice(-6000)}`);
  }
  return result;
}

describe(`${CARRIERS_PER_TRANSPORT.toLocaleString('en')} hostile carriers per transport, in-process`, () => {
  it('Kafka headers, HTTP headers and BullMQ job metadata: nothing escapes, inputs untouched, only valid context goes onward', async () => {
    const base = Math.floor(Math.random() * 2 ** 30);
    console.log(`[fuzz] base seed ${base} (shard i of a carrier uses base + i)`);
    const tasks = CARRIERS.flatMap((carrier) =>
      Array.from({ length: SHARDS_PER_TRANSPORT }, (_, i) => () => runShard(carrier, CASES[carrier] / SHARDS_PER_TRANSPORT, base + i)),
    );
    const shards = await inParallel(tasks, availableParallelism());

    for (const carrier of CARRIERS) {
      const mine = shards.filter((s) => s.carrier === carrier);
      const sum = (pick: (s: ShardResult) => number) => mine.reduce((n, s) => n + pick(s), 0);
      const cases = sum((s) => s.figures.cases);
      const hops = sum((s) => s.figures.hops);
      const sessionsAccepted = sum((s) => s.figures.sessionsAccepted);
      expect(cases).toBe(CASES[carrier]);
      expect(hops, `${carrier}: carriers through a hop`).toBeGreaterThanOrEqual(CARRIERS_PER_TRANSPORT);
      expect(
        sum((s) => s.figures.traceparentsSent),
        `${carrier}: every hop sends a valid traceparent onward`,
      ).toBe(hops);
      // Not trivially refusing everything: sessions were accepted where the policy allows them.
      expect(sessionsAccepted, `${carrier}: sessions accepted`).toBeGreaterThan(hops / 50);
      for (const shard of mine) {
        expect(shard.spanProblems, `${carrier} seed ${shard.seed}`).toEqual([]);
        expect(shard.spansOpen, `${carrier} seed ${shard.seed}: spans never ended`).toBe(0);
        expect(shard.leaked, `${carrier} seed ${shard.seed}`).toEqual([]);
      }
      report(`fuzz in-process ${carrier}`, {
        cases,
        carriers: hops,
        sessionsAccepted,
        spans: sum((s) => s.spans),
        spansInSession: sum((s) => s.spansInSession),
        seeds: mine.map((s) => s.seed),
      });
    }
  });
});
