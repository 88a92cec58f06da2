/**
 * Heap in use after the queued spans are exported and the garbage collector has run to a fixed
 * point (children run with --expose-gc): the before/after pair of a scenario's measured rounds
 * gives the heap growth per million hops on the real transport, through the public API only.
 */
export async function settledHeap(flush: () => Promise<void>): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('bench child started without --expose-gc');
  await flush();
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return process.memoryUsage().heapUsed;
}

/** Fewer hops than this make the per-million figure GC noise, not growth: it is not reported. */
const MIN_HEAP_HOPS = 100_000;

/** Heap growth per million hops in MB, or undefined when too few hops ran to tell. */
export function growthPerMillion(growthBytes: number, hops: number): number | undefined {
  return hops < MIN_HEAP_HOPS ? undefined : (growthBytes / 2 ** 20) * (1e6 / hops);
}
