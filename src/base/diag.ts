import { diag, type DiagLogger } from '@opentelemetry/api';

/**
 * The library's logger: every dropped header, refused entry and swallowed failure is reported
 * here and nowhere else, so users see it through the diag logger they configured.
 */
export const log: DiagLogger = diag.createComponentLogger({ namespace: 'agentops-propagation' });

/** Runs `fn` and logs instead of throwing: propagation must never break the business path. */
export function guarded<T>(what: string, fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch (err) {
    log.warn(`${what} failed; continuing without it`, err as Error);
    return fallback;
  }
}
