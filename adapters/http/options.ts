/**
 * Options of the outbound HTTP hops, validated once per options object, and the two steps both
 * hops share: starting the CLIENT hop and adding its fields to a request's headers as the
 * target policy allows for that destination.
 */
import { SpanKind, type TextMapPropagator } from '@opentelemetry/api';
import { mergeContextFields } from '../../src/carriers/header-merge.js';
import { startOutboundHop } from '../../src/hop/outbound.js';
import type { OutboundHop } from '../../src/hop/types.js';
import type { clientRequestAttributes } from '../../src/http/semconv.js';
import { recordHopAllowance, TRACE_HEADERS, withoutOurBaggage } from '../../src/http/guarded-headers.js';
import { createTargetPolicy, type TargetPolicy, type TargetPolicyOptions } from '../../src/http/targets.js';
import { booleanOption, keyringOption, optionNames, optionsObject, propagatorOption } from '../../src/policy/options.js';
import type { SigningKeyOption, SigningKeyring } from '../../src/policy/signing.js';

/** Options shared by {@link sessionFetch} and {@link injectSessionHeaders}. */
export interface OutboundHttpOptions extends TargetPolicyOptions {
  /** Replace a `traceparent` (with its `tracestate`) the request already carries (default false: keep it). */
  overrideTraceparent?: boolean;
  /** @deprecated Since 0.2.0: use `overrideTraceparent` (same meaning); removed in 0.3.0. */
  override?: boolean;
  /** Key signing the session entry; undefined = the one from `init`, null = none. */
  signingKey?: SigningKeyOption | SigningKeyring | null;
  /** Propagator to inject with (default: the library's). */
  propagator?: TextMapPropagator;
}

/** Options of {@link sessionFetch}. */
export interface SessionFetchOptions extends OutboundHttpOptions {
  /** Most redirects followed before the call fails as fetch does (default 20, fetch's own limit). */
  maxRedirects?: number;
}

/** Options of {@link injectSessionHeaders}. */
export type InjectSessionHeadersOptions = OutboundHttpOptions;

/** A fetch function: the global one or any compatible implementation. */
export type FetchFunction = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Validated outbound options. */
export interface OutboundSettings {
  policy: TargetPolicy;
  overrideTraceparent: boolean;
  signing: SigningKeyring | null | undefined;
  propagator: TextMapPropagator | undefined;
}

/** Every option name of {@link InjectSessionHeadersOptions}: any other key is a misspelling. */
const INJECT_OPTIONS = optionNames<InjectSessionHeadersOptions>({
  targets: true,
  traceparentTargets: true,
  baggageTargets: true,
  internalTargets: true,
  overrideTraceparent: true,
  override: true,
  signingKey: true,
  propagator: true,
});
/** Every option name of {@link SessionFetchOptions}. */
const FETCH_OPTIONS = [...INJECT_OPTIONS, 'maxRedirects'];

/** Validates outbound options; bad configuration throws a TypeError naming the option. */
export function outboundSettings(options: unknown, where: 'sessionFetch' | 'injectSessionHeaders'): OutboundSettings {
  const o = optionsObject(options, `${where} options`, where === 'sessionFetch' ? FETCH_OPTIONS : INJECT_OPTIONS);
  const deprecated = booleanOption(o.override, `${where} override`, false);
  return {
    policy: createTargetPolicy(o as TargetPolicyOptions),
    overrideTraceparent: booleanOption(o.overrideTraceparent, `${where} overrideTraceparent`, deprecated),
    signing: keyringOption(o.signingKey, `${where} signingKey`),
    propagator: propagatorOption(o.propagator, `${where} propagator`, 'inject'),
  };
}

// injectSessionHeaders is called per request with the same options object, usually.
const settingsByOptions = new WeakMap<object, OutboundSettings>();
let defaultSettings: OutboundSettings | undefined;

export function settingsFor(options: InjectSessionHeadersOptions | undefined): OutboundSettings {
  if (options === undefined) return (defaultSettings ??= outboundSettings(undefined, 'injectSessionHeaders'));
  let settings = typeof options === 'object' && options !== null ? settingsByOptions.get(options) : undefined;
  if (settings === undefined) {
    settings = outboundSettings(options, 'injectSessionHeaders');
    settingsByOptions.set(options, settings);
  }
  return settings;
}

export function outboundHop(
  settings: OutboundSettings,
  spanName: string,
  startSpan: boolean,
  attributes?: ReturnType<typeof clientRequestAttributes>,
): OutboundHop {
  return startOutboundHop({
    spanName,
    kind: SpanKind.CLIENT,
    startSpan,
    ...(attributes !== undefined ? { attributes } : {}),
    ...(settings.signing !== undefined ? { signing: settings.signing } : {}),
    ...(settings.propagator !== undefined ? { propagator: settings.propagator } : {}),
  });
}

/**
 * Our fields for `url` merged into `headers` (a copy we own), as the policy allows. What the
 * policy denies is also removed from the copy (a copied inbound traceparent or session entry
 * must not reach a denied target either). What it allows is recorded for the outbound guards,
 * which hold other requests to the global policy and would otherwise strip it.
 */
export function addFields(headers: Record<string, string>, url: URL, hop: OutboundHop, settings: OutboundSettings): void {
  const fields = settings.policy.fieldsFor(url);
  removeDenied(headers, fields.traceparent, fields.baggage);
  if (!fields.traceparent && !fields.baggage) return;
  const ours = hop.fields(fields);
  mergeContextFields(headers, ours, { overrideTraceparent: settings.overrideTraceparent });
  const traceparent = ours.traceparent ?? headers.traceparent;
  if (traceparent !== undefined) recordHopAllowance(traceparent, url, fields);
}

function removeDenied(headers: Record<string, string>, traceparent: boolean, baggage: boolean): void {
  if (traceparent && baggage) return;
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (!traceparent && TRACE_HEADERS.has(lower)) delete headers[name];
    else if (!baggage && lower === 'baggage') {
      const kept = withoutOurBaggage(headers[name]);
      if (kept === undefined) delete headers[name];
      else headers[name] = kept;
    }
  }
}
