import { log } from '../base/diag.js';

/**
 * Whether a hop accepts the caller's context: `trust` (trace and session), `link` (a new trace that
 * links the caller's span, no session), `ignore` (nothing).
 */
export type TrustMode = 'trust' | 'link' | 'ignore';

/** For trusted input: continue the caller's span, or start under the session's root span. */
export type ShapeMode = 'parent' | 'rejoin';

/** A trust mode, or a function deciding it per request, message or job. */
export type TrustOption<Input> = TrustMode | ((input: Input) => TrustMode);

/** A shape, or a function deciding it per request, message or job. */
export type ShapeOption<Input> = ShapeMode | ((input: Input) => ShapeMode);

const TRUST_MODES: ReadonlySet<unknown> = new Set(['trust', 'link', 'ignore']);
const SHAPES: ReadonlySet<unknown> = new Set(['parent', 'rejoin']);

/** Throws at configuration time on a value that is neither a mode nor a function. */
export function assertTrustOption(option: unknown, where: string): void {
  if (option !== undefined && typeof option !== 'function' && !TRUST_MODES.has(option)) {
    throw new TypeError(`agentops-propagation: ${where} must be 'trust' | 'link' | 'ignore' or a function, got ${String(option)}`);
  }
}

/** Throws at configuration time on a value that is neither a shape nor a function. */
export function assertShapeOption(option: unknown, where: string): void {
  if (option !== undefined && typeof option !== 'function' && !SHAPES.has(option)) {
    throw new TypeError(`agentops-propagation: ${where} must be 'parent' | 'rejoin' or a function, got ${String(option)}`);
  }
}

/**
 * Resolves a trust option for one input. A function that throws or returns something else
 * yields 'link': failing towards less trust keeps a buggy policy from opening a session.
 */
export function resolveTrust<Input>(option: TrustOption<Input> | undefined, input: Input, fallback: TrustMode): TrustMode {
  if (option === undefined) return fallback;
  if (typeof option !== 'function') return option;
  try {
    const mode = option(input);
    if (TRUST_MODES.has(mode)) return mode;
    log.warn(`trust function returned ${String(mode)}; using 'link'`);
  } catch (err) {
    log.warn("trust function threw; using 'link'", err as Error);
  }
  return 'link';
}

/** Resolves a shape option for one input; a failing function yields 'parent'. */
export function resolveShape<Input>(option: ShapeOption<Input> | undefined, input: Input, fallback: ShapeMode): ShapeMode {
  if (option === undefined) return fallback;
  if (typeof option !== 'function') return option;
  try {
    const shape = option(input);
    if (SHAPES.has(shape)) return shape;
    log.warn(`shape function returned ${String(shape)}; using '${fallback}'`);
  } catch (err) {
    log.warn(`shape function threw; using '${fallback}'`, err as Error);
  }
  return fallback;
}

/** Looks up a per-key option (topic, queue, route): exact key first, then the default. */
export function perKey<T>(byKey: Record<string, T> | undefined, key: string, fallback: T): T {
  if (byKey !== undefined && Object.prototype.hasOwnProperty.call(byKey, key)) return byKey[key] as T;
  return fallback;
}
