/**
 * The inbound hop: the decision (decide.ts), then the SERVER or CONSUMER span, or the span another
 * instrumentation already started for this input, adopted when it has the parentage we would
 * have given ours.
 */
import {
  context as otelContext,
  isSpanContextValid,
  SpanKind,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';
import { warnIfNotInitialised } from '../base/init-warning.js';
import { applyOutcome, errorType } from '../base/span-outcome.js';
import { isTracingSuppressed } from '@opentelemetry/core';
import { RandomIdGenerator } from '@opentelemetry/sdk-trace-base';
import { tracer, unsampledRemoteParentsRecordNothing } from '../base/tracer.js';
import { consumerAttributes, recordProcessed, type ConsumerAttributes } from '../metrics/messaging.js';
import { markDecision, recordDecision } from '../metrics/propagation.js';
import { measureStart } from '../metrics/work.js';
import { ATTR } from '../session/attributes.js';
import { holdsUnvettedEntry } from '../session/context.js';
import { resolveInbound } from './decide.js';
import type { HopOutcome, InboundHop, InboundHopOptions, ResolvedInbound } from './types.js';

/**
 * Whether the span another instrumentation started for this input continued the caller exactly
 * as we would have: then it is adopted; otherwise our own span starts fresh and links it.
 */
function adoptable(existing: Span | undefined, existingContext: SpanContext | undefined, resolved: ResolvedInbound): existing is Span {
  if (existing === undefined || existingContext === undefined || !existing.isRecording()) return false;
  // A caller the hop links: the existing span is ours to adopt when it did not continue that
  // caller (the global extract refused it), so the request keeps one SERVER span.
  if (resolved.trust === 'link') return resolved.caller === undefined || existingContext.traceId !== resolved.caller.traceId;
  if (resolved.trust !== 'trust') return false;
  if (resolved.shape === 'parent') return existingContext.traceId === resolved.caller?.traceId;
  return resolved.shape === 'root' && resolved.caller === undefined;
}

/** A messaging processing operation being measured (`messaging.process.duration`). */
interface Processing {
  attributes: ConsumerAttributes;
  start: number;
}

/** The measurement of a hop whose attributes say it processes messages; undefined otherwise, or when nothing is measured. */
function processing(attributes: Attributes | undefined): Processing | undefined {
  if (attributes?.['messaging.operation.type'] !== 'process') return undefined;
  const start = measureStart();
  if (start < 0) return undefined;
  const system = attributes['messaging.system'];
  const operation = attributes['messaging.operation.name'];
  const destination = attributes['messaging.destination.name'];
  const group = attributes['messaging.consumer.group.name'];
  return {
    attributes: consumerAttributes(
      typeof system === 'string' ? system : 'unknown',
      typeof operation === 'string' ? operation : 'process',
      typeof destination === 'string' ? destination : undefined,
      typeof group === 'string' ? group : undefined,
    ),
    start,
  };
}

/** A started hop around `span`; `end` applies the outcome once, and ends the span unless adopted. */
function hopAround(
  span: Span,
  context: Context,
  resolved: ResolvedInbound,
  adopted: boolean,
  measured: Processing | undefined,
): InboundHop {
  let done = false;
  return {
    span,
    context,
    sessionId: resolved.session?.sessionId,
    trust: resolved.trust,
    shape: resolved.shape,
    adopted,
    end(outcome?: HopOutcome) {
      if (done) return;
      done = true;
      applyOutcome(span, outcome);
      if (!adopted) span.end();
      if (measured !== undefined) {
        recordProcessed(measured.attributes, measured.start, outcome?.error === undefined ? undefined : errorType(outcome.error));
      }
    },
  };
}

function adopt(
  existing: Span,
  existingContext: SpanContext,
  attributes: Attributes,
  resolved: ResolvedInbound,
  measured: Processing | undefined,
): InboundHop {
  existing.setAttributes(attributes);
  existing.setAttribute(ATTR.hopTrust, resolved.trust);
  existing.setAttribute(ATTR.hopShape, 'adopted');
  // The links our own span would have carried (the caller's span, on a `link` hop).
  for (const link of resolved.links) existing.addLink(link);
  if (resolved.session !== undefined && existingContext.traceId === resolved.session.sessionId) {
    // As the session processor: another tool's session.id (Langfuse's, from its baggage member)
    // wins; agentops.session.id is ours.
    if ((existing as { attributes?: Attributes }).attributes?.[ATTR.sessionId] === undefined)
      existing.setAttribute(ATTR.sessionId, resolved.session.sessionId);
    existing.setAttribute(ATTR.agentopsSessionId, resolved.session.sessionId);
  }
  return hopAround(existing, trace.setSpan(trace.deleteSpan(resolved.parentContext), existing), resolved, true, measured);
}

/** The transport an inbound hop serves, for the propagation metrics: the messaging system, `http`, else `other`. */
function transportOf(attributes: Attributes | undefined): string {
  const system = attributes?.['messaging.system'];
  if (typeof system === 'string') return system;
  return attributes?.['http.request.method'] !== undefined ? 'http' : 'other';
}

/** Counts a decision just made (after {@link markDecision}) for `transport`. */
function recordHopDecision<Carrier>(
  options: Omit<InboundHopOptions<Carrier>, 'spanName'>,
  resolved: ResolvedInbound,
  transport: string,
): void {
  recordDecision(transport, {
    trust: resolved.trust,
    shape: resolved.shape,
    session: resolved.session !== undefined,
    caller: resolved.caller !== undefined,
    refused: resolved.refused,
    unvetted: holdsUnvettedEntry(options.parentContext ?? otelContext.active()),
  });
}

/**
 * `resolveInbound`, counted in the propagation metrics like the decisions `startInboundHop` makes:
 * for adapters that decide ahead of the hop (a batch consumer decides for each message, then
 * passes the decision as `resolved`, which `startInboundHop` does not count again).
 */
export function resolveInboundCounted<Carrier>(options: Omit<InboundHopOptions<Carrier>, 'spanName'>, transport: string): ResolvedInbound {
  const measuring = markDecision();
  const resolved = resolveInbound(options);
  if (measuring) recordHopDecision(options, resolved, transport);
  return resolved;
}

/**
 * Whether the span an inbound hop starts for this decision records nothing: its parent is an
 * unsampled remote span context and init's sampler follows such parents. The hop then makes the
 * non-recording span the SDK would make, and an adapter can skip what only a recording span
 * reads (attributes, end listeners).
 */
export function startsUnsampled(resolved: ResolvedInbound): boolean {
  // An adapter asks before it builds attributes, then the hop asks again: the parent is read once.
  if (resolved !== lastAsked.resolved) {
    lastAsked.resolved = resolved;
    lastAsked.unsampledRemote = unsampledRemoteParent(resolved);
  }
  // The SDK's self-metrics would count this span as dropped; init's provider has none (no meterProvider).
  return lastAsked.unsampledRemote && unsampledRemoteParentsRecordNothing();
}

const lastAsked: { resolved: ResolvedInbound | undefined; unsampledRemote: boolean } = { resolved: undefined, unsampledRemote: false };

/** Whether the decision parents the span under a valid, remote, unsampled span context, tracing not suppressed. */
function unsampledRemoteParent(resolved: ResolvedInbound): boolean {
  if (resolved.root) return false;
  const parent = trace.getSpanContext(resolved.parentContext);
  return (
    parent !== undefined &&
    parent.isRemote === true &&
    (parent.traceFlags & TraceFlags.SAMPLED) === 0 &&
    isSpanContextValid(parent) &&
    !isTracingSuppressed(resolved.parentContext)
  );
}

/** Span ids as init's provider makes them. */
const ids = new RandomIdGenerator();

/** The span the SDK starts when its sampler records nothing: a new span id in the parent's trace, flags 00. */
function unsampledChild(parentContext: Context): Span {
  const parent = trace.getSpanContext(parentContext) as SpanContext;
  const spanContext: SpanContext = { traceId: parent.traceId, spanId: ids.generateSpanId(), traceFlags: TraceFlags.NONE };
  if (parent.traceState !== undefined) spanContext.traceState = parent.traceState;
  return trace.wrapSpanContext(spanContext);
}

/**
 * Inbound hop: read the carrier, apply trust, extract, choose parent / rejoin / root, start the
 * SERVER or CONSUMER span (or adopt the one another instrumentation made). Never throws.
 */
export function startInboundHop<Carrier>(options: InboundHopOptions<Carrier>): InboundHop {
  warnIfNotInitialised();
  // A decision made ahead (batch consumers) was counted where it was made.
  const measuring = options.resolved === undefined && markDecision();
  const resolved = options.resolved ?? resolveInbound(options);
  if (measuring) recordHopDecision(options, resolved, transportOf(options.attributes));
  const measured = processing(options.attributes);
  // The hop's own two attributes are set on the span, not merged into a copy of the adapter's.
  const attributes: Attributes = options.attributes ?? {};
  const existing = options.existingSpan;
  const existingContext = existing?.spanContext();
  if (adoptable(existing, existingContext, resolved))
    return adopt(existing, existingContext as SpanContext, attributes, resolved, measured);

  if (startsUnsampled(resolved)) {
    const span = unsampledChild(resolved.parentContext);
    return hopAround(span, trace.setSpan(resolved.parentContext, span), resolved, false, measured);
  }
  const links: Link[] = resolved.links.length === 0 && options.links === undefined ? [] : [...resolved.links, ...(options.links ?? [])];
  if (existingContext !== undefined && isSpanContextValid(existingContext)) {
    links.push({ context: existingContext, attributes: { [ATTR.linkType]: 'adopted' } });
  }
  const span = tracer().startSpan(
    options.spanName,
    {
      kind: options.kind ?? SpanKind.SERVER,
      attributes,
      links,
      root: resolved.root,
      ...(options.startTime !== undefined ? { startTime: options.startTime } : {}),
    },
    resolved.parentContext,
  );
  span.setAttribute(ATTR.hopTrust, resolved.trust);
  span.setAttribute(ATTR.hopShape, resolved.shape);
  return hopAround(span, trace.setSpan(resolved.parentContext, span), resolved, false, measured);
}
