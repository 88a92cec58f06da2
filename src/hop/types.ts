/**
 * The hop engine's public types: what an adapter passes in and gets back. The implementation
 * lives beside them (decide.ts, inbound.ts, outbound.ts, run.ts).
 */
import type {
  Attributes,
  Context,
  Link,
  Span,
  SpanContext,
  SpanKind,
  TextMapGetter,
  TextMapPropagator,
  TextMapSetter,
} from '@opentelemetry/api';
import type { InjectFields } from '../base/context-keys.js';
import type { SpanOutcome } from '../base/span-outcome.js';
import type { SignatureVerdict, SigningKeyring } from '../policy/signing.js';
import type { ShapeMode, TrustMode } from '../policy/trust.js';
import type { SessionEntry } from '../session/entry.js';

/** How an inbound hop placed its span. */
export type HopShape = 'parent' | 'rejoin' | 'root';

/** Options of `startInboundHop`. */
export interface InboundHopOptions<Carrier> {
  /** What the caller's context arrived in (headers, message headers, job metadata). */
  carrier: Carrier;
  /** Reads one field of the carrier. */
  getter: TextMapGetter<Carrier>;
  /** Name of the SERVER/CONSUMER span. */
  spanName: string;
  /** Span kind (default SERVER). */
  kind?: SpanKind;
  /** Attributes for the span (semantic conventions of the transport). */
  attributes?: Attributes;
  /** Trust decided for this input by the adapter's policy. */
  trust: TrustMode;
  /** Shape for trusted input (default 'parent'). */
  shape?: ShapeMode;
  /** Keyring verifying signed entries; undefined = the one from `init`, null = none. */
  signing?: SigningKeyring | null;
  /**
   * Let a validly signed session entry upgrade `link` to `trust` for this input (default false).
   * The signature vouches for the session entry only: the caller's other baggage is dropped.
   */
  signedUpgrade?: boolean;
  /** A span another instrumentation already started for this input; adopted when trusted. */
  existingSpan?: Span;
  /** Extra links for the span (for example one per message of a batch). */
  links?: Link[];
  /** Context to start from (default: the active one). */
  parentContext?: Context;
  /** Start time of the span, when the input arrived before the hop ran. */
  startTime?: number;
  /** Propagator to extract with (default: the library's, whatever is registered globally). */
  propagator?: TextMapPropagator;
  /** A decision `resolveInbound` already made for this input (batch consumers resolve each message once). */
  resolved?: ResolvedInbound;
  /** Link, never continue, a trusted caller whose context carries no session entry (scheduled runs: continuing would grow one endless trace). */
  linkWithoutSession?: boolean;
}

/** How an inbound or outbound hop finished: an error, an explicit status, attributes known at the end. */
export type HopOutcome = SpanOutcome;

/** A started inbound hop. */
export interface InboundHop {
  /** The SERVER/CONSUMER span, ours or the adopted one. */
  readonly span: Span;
  /** Context to run the handler in: the span, and the session's baggage when trusted. */
  readonly context: Context;
  /** The session the input joined, if any. */
  readonly sessionId: string | undefined;
  /** Trust actually applied (a signature can raise or lower the configured one). */
  readonly trust: TrustMode;
  /** Where the span was placed. */
  readonly shape: HopShape;
  /** True when the span is another instrumentation's, which we do not end. */
  readonly adopted: boolean;
  /** Ends the span (once) with the outcome. */
  end(outcome?: HopOutcome): void;
}

/** What the inbound carrier resolved to, before any span is started. */
export interface ResolvedInbound {
  /** Context to start the hop's span in (holds the parent span context and the baggage). */
  parentContext: Context;
  /** True when the span must be a new root. */
  root: boolean;
  /** Links the span should carry. */
  links: Link[];
  /** The accepted session entry (vetted; the sender's signature is not kept). */
  session: SessionEntry | undefined;
  /** The caller's span context, when valid. */
  caller: SpanContext | undefined;
  /** Trust after signature checks. */
  trust: TrustMode;
  /** Shape of the span. */
  shape: HopShape;
  /**
   * Why the caller's session entry or baggage was not taken: a key's verdict on its signature
   * (unsigned, forged, expired…), or `untrusted` (trust `link` takes none); absent when nothing was refused.
   */
  refused?: Exclude<SignatureVerdict, 'valid'> | 'untrusted';
}

/** Options of `startOutboundHop`. */
export interface OutboundHopOptions {
  /** Name of the CLIENT/PRODUCER span. */
  spanName: string;
  /** Span kind (default CLIENT). */
  kind?: SpanKind;
  /** Attributes for the span. */
  attributes?: Attributes;
  /** Context to start from (default: the active one). */
  parentContext?: Context;
  /** False: start no span and inject the parent context as is. */
  startSpan?: boolean;
  /** Keyring that signs the session entry; undefined = the one from `init`, null = none. */
  signing?: SigningKeyring | null;
  /** Propagator to inject with (default: the library's). */
  propagator?: TextMapPropagator;
}

/** A started outbound hop. */
export interface OutboundHop {
  /** The CLIENT/PRODUCER span, when one was started. */
  readonly span: Span | undefined;
  /** Context of the hop (its span active). */
  readonly context: Context;
  /** Writes this hop's W3C fields into `carrier`: pass a copy, never the caller's object. */
  inject<Carrier>(carrier: Carrier, setter?: TextMapSetter<Carrier>, fields?: InjectFields): void;
  /** This hop's W3C fields as a new plain object. */
  fields(fields?: InjectFields): Record<string, string>;
  /**
   * Marks `carrier` (one the adapter built for this hop) as permitted to carry the hop's session
   * entry, signed when a key is set, whoever injects into it later: another instrumentation of
   * the same client writing into it keeps the session, while the code that sends it runs
   * without any permit.
   */
  permit(carrier: object): void;
  /** Ends the span (once) with the outcome. */
  end(outcome?: HopOutcome): void;
}
