import { BoundedCache } from './bounded-cache.js';

/**
 * Process-wide state. It lives on `globalThis` under a registered symbol so that loading both the
 * ESM and the CJS build (or two copies of the package) does not split it: a session started
 * through one copy must be visible to adapters loaded through the other.
 */
export interface SharedState {
  /** Keyring set by `init({ signingKey })`, validated by policy/signing.ts (read it through `initKeyring`); adapters fall back to it. */
  signing: object | undefined;
  /** When true the propagator emits the session entry on every inject, not only on our hops. */
  globalSessionBaggage: boolean;
  /** Live sessions of this process by id, so `withSession(id)` can parent under the real root. */
  sessions: BoundedCache<string, { rootSpanId: string; traceFlags: number }>;
  /** Counters that tests and `stats()` read; never reset implicitly. */
  counters: {
    baggageBytesExamined: number;
    baggageMembersExamined: number;
    tracestateBytesExamined: number;
    droppedInbound: number;
    /** Inbound or outbound baggage list members dropped (malformed, over a limit, refused session entry). */
    baggageEntriesDropped: number;
    /** Inbound tracestate headers discarded whole (invalid member, > 32 members, over the scan cap). */
    tracestateDiscarded: number;
    /** Inbound traceparent values present but rejected (malformed, repeated, version ff). */
    traceparentRejected: number;
  };
  /** The handle of the current `init()`, if any. */
  handle: unknown;
  /** SessionSpanProcessor instances constructed in this process (for init's provider check). */
  processorCount: number;
  /** The provider `init` registered when its sampler is parent-based with the default for unsampled remote parents (record nothing). */
  parentBasedProvider: object | undefined;
}

/** Live sessions remembered for `withSession(id)`; the oldest are forgotten beyond this. */
const MAX_REMEMBERED_SESSIONS = 10_000;

const STATE_KEY = Symbol.for('agentops-propagation.state.v1');

type GlobalWithState = typeof globalThis & { [STATE_KEY]?: SharedState };

export function sharedState(): SharedState {
  const g = globalThis as GlobalWithState;
  let state = g[STATE_KEY];
  if (state === undefined) {
    state = {
      signing: undefined,
      globalSessionBaggage: false,
      sessions: new BoundedCache(MAX_REMEMBERED_SESSIONS),
      counters: {
        baggageBytesExamined: 0,
        baggageMembersExamined: 0,
        tracestateBytesExamined: 0,
        droppedInbound: 0,
        baggageEntriesDropped: 0,
        tracestateDiscarded: 0,
        traceparentRejected: 0,
      },
      handle: undefined,
      processorCount: 0,
      parentBasedProvider: undefined,
    };
    g[STATE_KEY] = state;
  }
  return state;
}

type CounterName = keyof SharedState['counters'];

/**
 * Adds to a shared counter. The state object may have been created by an older copy of the
 * package that lacked this counter, so a missing field starts from zero instead of becoming NaN.
 */
export function bump(name: CounterName, by = 1): void {
  const counters = sharedState().counters;
  counters[name] = (counters[name] ?? 0) + by;
}
