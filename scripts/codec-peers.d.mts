// Types for scripts/codec-peers.mjs, which test/interop/codecs.test.ts imports.

/** How to start one peer: it reads header values on stdin, one a line, and prints one JSON line each. */
export interface CodecPeer {
  command: string;
  args: string[];
}

/** Every peer the codec test runs. */
export interface CodecPeers {
  /** OpenTelemetry Go (propagation.Baggage and baggage.Parse). */
  go: CodecPeer;
  /** OpenTelemetry Java (W3CBaggagePropagator). */
  java: CodecPeer;
  /** OpenTelemetry Python (W3CBaggagePropagator). */
  python: CodecPeer;
  /** @sentry/node 11 (its @sentry/core, and a real fetch and http.request in a span). */
  sentry11: CodecPeer;
  /** @sentry/node 10, the same. */
  sentry10: CodecPeer;
}

/** Builds the Go and Java peers into .cache/codec-peers when missing or stale, and the Python environment. */
export function ensureCodecPeers(options?: { log?: (message: string) => void }): Promise<CodecPeers>;

/** Runs a peer on `inputs` and resolves the JSON lines it printed, parsed. */
export function runPeer(peer: CodecPeer, inputs: readonly string[], options?: { timeoutMs?: number }): Promise<unknown[]>;
