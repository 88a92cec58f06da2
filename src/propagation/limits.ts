/** Size and work caps applied to every header the propagator reads or writes. */
export interface PropagationLimits {
  /** Largest baggage header kept on extract or written on inject, in bytes (W3C: at least 8192). */
  maxBaggageBytes: number;
  /** Most baggage list members kept on extract or written on inject (W3C: at least 64). */
  maxBaggageMembers: number;
  /** Bytes of inbound baggage examined per extract, however large the header; the rest is never read. */
  maxScanBytes: number;
  /** Baggage list members examined per extract, however many the header holds. */
  maxScanMembers: number;
  /** Longest tracestate kept or written; whole entries are removed beyond it (W3C: at least 512). */
  maxTracestateLength: number;
  /** Longest inbound tracestate examined; a longer one cannot be validated and is discarded whole. */
  maxTracestateScanBytes: number;
}

export const DEFAULT_LIMITS: Readonly<PropagationLimits> = Object.freeze({
  maxBaggageBytes: 8192,
  maxBaggageMembers: 64,
  maxScanBytes: 65536,
  maxScanMembers: 512,
  maxTracestateLength: 512,
  // 32 members of a 256-char key and a 256-char value plus commas is 16447 chars; leave room for OWS.
  maxTracestateScanBytes: 32768,
});

function pick(value: unknown, fallback: number): number {
  // A NaN, negative or non-number limit from a config file must not silently disable a cap;
  // Infinity is accepted as an explicit "no cap".
  return typeof value === 'number' && value >= 0 ? Math.floor(value) : fallback;
}

/** Defaults overlaid with the caller's valid fields; invalid fields keep their default. */
export function resolveLimits(partial?: Partial<PropagationLimits>): PropagationLimits {
  const p: Partial<PropagationLimits> = partial !== null && typeof partial === 'object' ? partial : {};
  return {
    maxBaggageBytes: pick(p.maxBaggageBytes, DEFAULT_LIMITS.maxBaggageBytes),
    maxBaggageMembers: pick(p.maxBaggageMembers, DEFAULT_LIMITS.maxBaggageMembers),
    maxScanBytes: pick(p.maxScanBytes, DEFAULT_LIMITS.maxScanBytes),
    maxScanMembers: pick(p.maxScanMembers, DEFAULT_LIMITS.maxScanMembers),
    maxTracestateLength: pick(p.maxTracestateLength, DEFAULT_LIMITS.maxTracestateLength),
    maxTracestateScanBytes: pick(p.maxTracestateScanBytes, DEFAULT_LIMITS.maxTracestateScanBytes),
  };
}
