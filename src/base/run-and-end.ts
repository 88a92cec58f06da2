import { context as otelContext, type Context } from '@opentelemetry/api';

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Runs `fn` in `ctx` and calls `end` once when it settles: at once for a plain value or a throw,
 * when the promise settles for a thenable. Returns what `fn` returns (a promise result settles
 * with the same value or error, after `end`); errors are passed to `end` and rethrown unchanged.
 * A synchronous `fn` stays synchronous, which callbacks such as `withMessageContext(message, fn)`
 * promise their callers. `end` must not throw (guard it).
 */
export function runAndEnd<T>(ctx: Context, fn: () => T, end: (error?: { error: unknown }) => void): T {
  let result: T;
  try {
    result = otelContext.with(ctx, fn);
  } catch (error) {
    end({ error });
    throw error;
  }
  if (!isThenable(result)) {
    end();
    return result;
  }
  return result.then(
    (value) => {
      end();
      return value;
    },
    (error: unknown) => {
      end({ error });
      throw error;
    },
  ) as T;
}
