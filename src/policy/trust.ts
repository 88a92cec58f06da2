import { log } from '../base/diag.js';
import { configError } from './config-error.js';

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

const TRUST_MODES: readonly TrustMode[] = ['trust', 'link', 'ignore'];
const SHAPES: readonly ShapeMode[] = ['parent', 'rejoin'];

function assertModeOption(option: unknown, where: string, modes: readonly string[]): void {
  if (option !== undefined && typeof option !== 'function' && !modes.includes(option as string)) {
    configError(where, `must be ${modes.map((m) => `'${m}'`).join(' | ')} or a function, got ${String(option)}`);
  }
}

/** Throws at configuration time on a value that is neither a mode nor a function. */
export function assertTrustOption(option: unknown, where: string): void {
  assertModeOption(option, where, TRUST_MODES);
}

/** Throws at configuration time on a value that is neither a shape nor a function. */
export function assertShapeOption(option: unknown, where: string): void {
  assertModeOption(option, where, SHAPES);
}

/**
 * A mode option resolved for one input. A function is user code: when it throws or returns
 * something else, `onFailure` is used and the diag logger says why.
 */
function resolveMode<Input, M extends string>(
  option: M | ((input: Input) => M) | undefined,
  input: Input,
  fallback: M,
  modes: readonly M[],
  onFailure: M,
  what: string,
): M {
  if (option === undefined) return fallback;
  if (typeof option !== 'function') return option;
  let mode: unknown;
  try {
    mode = option(input);
  } catch (err) {
    log.warn(`${what} function threw; using '${onFailure}'`, err as Error);
    return onFailure;
  }
  if (modes.includes(mode as M)) return mode as M;
  log.warn(`${what} function returned ${String(mode)}; using '${onFailure}'`);
  return onFailure;
}

/**
 * Resolves a trust option for one input. A function that throws or returns something else
 * yields 'link': failing towards less trust keeps a buggy policy from opening a session.
 */
export function resolveTrust<Input>(option: TrustOption<Input> | undefined, input: Input, fallback: TrustMode): TrustMode {
  return resolveMode(option, input, fallback, TRUST_MODES, 'link', 'trust');
}

/** Resolves a shape option for one input; a failing function yields the fallback. */
export function resolveShape<Input>(option: ShapeOption<Input> | undefined, input: Input, fallback: ShapeMode): ShapeMode {
  return resolveMode(option, input, fallback, SHAPES, fallback, 'shape');
}
