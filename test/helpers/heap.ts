// Heap measurements for leak and bounded-memory tests: a forced full GC before each sample, and a
// least-squares slope over the samples.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gcFunction: (() => void) | undefined;

/**
 * Node's `gc()`: the global one under `--expose-gc`, else enabled at run time (the flag is read
 * when a new context is created, so a fresh context hands out the function).
 */
function forceGc(): void {
  if (gcFunction === undefined) {
    const global = (globalThis as { gc?: () => void }).gc;
    if (typeof global === 'function') gcFunction = global;
    else {
      setFlagsFromString('--expose-gc');
      gcFunction = runInNewContext('gc') as () => void;
    }
  }
  // Twice: the first pass runs finalizers whose objects the second one frees.
  gcFunction();
  gcFunction();
}

/** Heap in use after a full collection, in bytes. */
export function heapAfterGc(): number {
  forceGc();
  return process.memoryUsage().heapUsed;
}

/** Least-squares slope of `y` over `x` (units of y per unit of x). */
export function slope(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  if (n < 2 || y.length !== n) throw new Error('slope needs two or more (x, y) pairs');
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (x[i]! - mx) * (y[i]! - my);
    den += (x[i]! - mx) ** 2;
  }
  return num / den;
}
