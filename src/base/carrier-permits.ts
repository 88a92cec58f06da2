import type { Context } from '@opentelemetry/api';

/**
 * Carriers one of this library's outbound hops built (the message headers a Kafka producer hop
 * copied), each with the context that permits that hop's session entry. The permit belongs to
 * the carrier, never to a context other code runs in: whoever injects into such a carrier later
 * (another instrumentation of the same client) writes the hop's session, and an HTTP call made
 * meanwhile does not. Lives on `globalThis` so that the ESM and CJS builds share it.
 */
const PERMITS_KEY = Symbol.for('agentops-propagation.carrier-permits.v1');

type GlobalWithPermits = typeof globalThis & { [PERMITS_KEY]?: WeakMap<object, Context> };

function permits(): WeakMap<object, Context> {
  const g = globalThis as GlobalWithPermits;
  return (g[PERMITS_KEY] ??= new WeakMap());
}

/** Records that a hop built `carrier` and may write the session of `injectContext` into it. */
export function permitCarrier(carrier: object, injectContext: Context): void {
  permits().set(carrier, injectContext);
}

/** The inject context a hop granted `carrier`, or undefined for any other carrier. */
export function carrierPermit(carrier: unknown): Context | undefined {
  return typeof carrier === 'object' && carrier !== null ? permits().get(carrier) : undefined;
}
