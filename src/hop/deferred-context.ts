import { ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { log } from '../base/diag.js';

/**
 * A Context whose contents are decided on first use. Some libraries activate the context for a
 * unit of work before they report what the work is (BullMQ activates a job's context, then names
 * the job); the decision that needs that report is taken when someone first reads the context,
 * which is after the report. Every read, and every derived context, sees the decided one.
 */
class DeferredContext implements Context {
  private decided: Context | undefined;

  constructor(
    private decide: (() => Context) | undefined,
    private readonly fallback: Context,
  ) {}

  resolve(): Context {
    if (this.decided !== undefined) return this.decided;
    const decide = this.decide;
    // A read from inside `decide` itself: answer with the fallback rather than recurse.
    if (decide === undefined) return this.fallback;
    this.decide = undefined;
    try {
      this.decided = decide();
    } catch (err) {
      log.warn('deciding a deferred context failed; using the fallback context', err as Error);
      this.decided = this.fallback;
    }
    return this.decided;
  }

  getValue(key: symbol): unknown {
    return this.resolve().getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return this.resolve().setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return this.resolve().deleteValue(key);
  }
}

/**
 * A context that is `decide()` from its first read on. `decide` runs at most once; if it throws,
 * the context is `fallback` (default: the root context) and the failure is logged.
 */
export function deferredContext(decide: () => Context, fallback: Context = ROOT_CONTEXT): Context {
  return new DeferredContext(decide, fallback);
}
