import type { TextMapPropagator } from '@opentelemetry/api';
import { initKeyring, type SigningKeyring } from '../policy/signing.js';
import { sessionPropagator } from '../propagator/session-propagator.js';

let defaultPropagator: TextMapPropagator | undefined;

/** The propagator a hop uses unless an adapter passes its own: the library's, with defaults. */
export function hopPropagator(option: TextMapPropagator | undefined): TextMapPropagator {
  return option ?? (defaultPropagator ??= sessionPropagator());
}

/** The keyring a hop uses: the adapter's option, or `init`'s key when the option is undefined; null = none. */
export function hopKeyring(option: SigningKeyring | null | undefined): SigningKeyring | undefined {
  return option === undefined ? initKeyring() : (option ?? undefined);
}
