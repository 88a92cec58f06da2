import { log } from './diag.js';
import { sharedState } from './state.js';

/** Set to `1` (or `true`) to silence the plain console warning about a missing `init()`. */
export const SILENCE_INIT_WARNING_ENV = 'AGENTOPS_PROPAGATION_NO_INIT_WARNING';

const WARNED_KEY = Symbol.for('agentops-propagation.init-warned.v1');

type GlobalWithWarned = typeof globalThis & { [WARNED_KEY]?: boolean };

/** This copy has warned or seen the library set up; from then on the check is one branch. */
let settled = false;

const MESSAGE =
  'agentops-propagation: a session or hop started before init() was called, so nothing is set up: no context manager ' +
  '(getSessionId() is undefined inside withSession), no session propagator (hops carry no session) and no exporter. ' +
  "Call init({ serviceName: '...' }) once at startup, before the first session, middleware or consumer. " +
  `(Set ${SILENCE_INIT_WARNING_ENV}=1 to hide this console message; it also goes to the OpenTelemetry diag logger.)`;

/**
 * Says once per process, through the diag logger and a plain `console.warn` (a user who forgot
 * `init` has no diag logger either), that a session or hop started while nothing is set up: no
 * `init()` and no `SessionSpanProcessor` of the user's own provider. The flag lives on
 * `globalThis`, so an ESM and a CJS copy of the package warn once between them. Never throws.
 */
export function warnIfNotInitialised(): void {
  if (settled) return;
  const g = globalThis as GlobalWithWarned;
  const state = sharedState();
  if (g[WARNED_KEY] === true || state.handle !== undefined || state.processorCount > 0) {
    // Said already, or set up: the hot path stops asking (a later shutdown() is not "forgot init").
    settled = true;
    return;
  }
  g[WARNED_KEY] = true;
  settled = true;
  log.warn(MESSAGE);
  const silence = process.env[SILENCE_INIT_WARNING_ENV];
  if (silence === '1' || silence === 'true') return;
  try {
    console.warn(MESSAGE);
  } catch {
    // a replaced console that throws must not break the session
  }
}

/** For tests: forget that the warning was given. */
export function resetInitWarning(): void {
  settled = false;
  delete (globalThis as GlobalWithWarned)[WARNED_KEY];
}
