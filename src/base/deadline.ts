/**
 * Waiting with a deadline. A flush or shutdown must come back by its deadline whatever the thing
 * it waits on does (answer late, never answer, reject), so the wait never rejects and its timer
 * never keeps the process alive.
 */
import { log } from './diag.js';

/** Resolves with true when `work` settles (either way) within `ms`, else false; never rejects. */
export function settlesWithin(work: PromiseLike<unknown> | undefined, ms: number): Promise<boolean> {
  if (work === undefined) return Promise.resolve(true);
  if (ms <= 0) {
    // Still observe a late rejection, so that it is not reported as unhandled.
    Promise.resolve(work).then(undefined, () => undefined);
    return Promise.resolve(false);
  }
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    timer.unref();
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    Promise.resolve(work).then(done, done);
  });
}

/** Milliseconds left until `deadline` (a `Date.now()` value), never negative. */
export function remaining(deadline: number): number {
  return Math.max(0, deadline - Date.now());
}

/** Calls `fn`; a throw or a rejection is logged as `what` and becomes a resolved undefined. */
export function attempt(what: string, fn: () => unknown): Promise<unknown> {
  const failed = (err: unknown) => void log.warn(what, err as Error);
  try {
    return Promise.resolve(fn()).then(undefined, failed);
  } catch (err) {
    failed(err);
    return Promise.resolve(undefined);
  }
}
