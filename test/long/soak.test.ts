// Memory soak: 420,000 hops through the adapters' real wrappers in a child process with
// --expose-gc (test/helpers/soak.ts), the heap sampled after a full GC every 15,000 hops. After
// the warm-up, the heap has no growth trend, and no span, session or context outlives its work.

import { describe, expect, it } from 'vitest';
import { helperPath, lastJson, runScript } from '../helpers/child.js';
import { slope } from '../helpers/heap.js';
import { report } from '../helpers/report.js';
import type { SoakResult } from '../helpers/soak.js';

const ITERATIONS = 70_000; // six hops each
const SAMPLE_EVERY = 2_500;
const WARM_UP_HOPS = 100_000;
/**
 * Largest heap growth trend allowed, per 100,000 hops. A leak of one small object per hop shows
 * as megabytes; the soak's own noise is a few kilobytes.
 */
const MAX_GROWTH_PER_100K_HOPS = 64 * 1024;

describe('memory soak', () => {
  it(`${(ITERATIONS * 6).toLocaleString('en')} hops: no heap growth trend, no span, session or context leak`, async () => {
    const run = await runScript(helperPath('soak.ts'), [String(ITERATIONS), String(SAMPLE_EVERY)], { nodeFlags: ['--expose-gc'] });
    const soak = lastJson<SoakResult>(run.stdout, 'soak');
    expect(run.code, run.stderr.slice(-4000)).toBe(0);
    expect(soak).toBeDefined();
    const { hops, samples } = soak!;
    expect(hops).toBe(ITERATIONS * 6);
    const steady = samples.filter(([h]) => h >= WARM_UP_HOPS);
    expect(steady.length).toBeGreaterThanOrEqual(15);
    const growthPer100k =
      slope(
        steady.map(([h]) => h),
        steady.map(([, b]) => b),
      ) * 100_000;
    expect(growthPer100k, `heap trend ${Math.round(growthPer100k)} bytes per 100k hops`).toBeLessThan(MAX_GROWTH_PER_100K_HOPS);
    expect(soak!.spansEnded).toBe(soak!.spansStarted);
    expect(soak!.spanProblems).toEqual([]);
    expect(soak!.outOfSession).toBe(0);
    expect(soak!.sessionsRemembered).toBe(0);
    expect(soak!.activeAfter).toBe(false);
    const heapMB = steady.map(([, b]) => b / 2 ** 20);
    report('memory soak', {
      hops,
      spans: soak!.spansEnded,
      samplesAfterWarmUp: steady.length,
      heapTrendBytesPer100kHops: Math.round(growthPer100k),
      heapMinMB: +Math.min(...heapMB).toFixed(2),
      heapMaxMB: +Math.max(...heapMB).toFixed(2),
    });
  });
});
