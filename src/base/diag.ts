import { diag, type DiagLogger } from '@opentelemetry/api';

/**
 * The library's logger: every dropped header, refused entry and swallowed failure is reported
 * here and nowhere else, so users see it through the diag logger they configured.
 */
export const log: DiagLogger = diag.createComponentLogger({ namespace: 'agentops-propagation' });

/**
 * Runs `fn(...args)` and, when it throws, logs `what` with the error and returns `fallback`.
 * Every user-supplied hook (trust and shape functions, target matchers, carrier getters and
 * setters, a user's propagator, a host library's callbacks) and every step that must not break
 * the business path goes through here: propagation never throws into a request, message or job.
 * The arguments are passed through rather than captured, so a hot path allocates no closure.
 */
export function guard<A extends unknown[], R>(what: string, fallback: R, fn: (...args: A) => R, ...args: A): R {
  try {
    return fn(...args);
  } catch (err) {
    log.warn(what, err as Error);
    return fallback;
  }
}
