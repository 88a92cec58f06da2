/**
 * `sessionTelemetry()`: BullMQ's own telemetry interface (`{ tracer, contextManager }`), so that
 * Queue, Worker and FlowProducer carry the session the way BullMQ expects to be instrumented.
 *
 * How BullMQ (5 and 6) drives it, per operation: `fromMetadata(active, stored)` when the job has
 * stored metadata, `tracer.startSpan(name, { kind }, thatContext)`, `span.setAttributes(queue,
 * operation)`, `span.setSpanOnContext(ctx)`, `getMetadata(messageContext)` when the operation
 * stores metadata (what add/addBulk/addNode write into the job), then the operation's callback in
 * `contextManager.with(messageContext)`, which first reports the job id.
 *
 * - PRODUCER spans are outbound hops; `getMetadata` injects the W3C carrier with the session
 *   entry (signed with a key) into the job-metadata JSON.
 * - A span started from stored metadata, and every CONSUMER span, is an inbound hop. Its
 *   decision waits for the job id (a scheduled run is placed differently), which BullMQ reports
 *   only inside the callback, after it activated the context: that context is deferred until
 *   first read, and the span starts when the id arrives.
 * - Other spans are plain children of the active context.
 */
import { context as otelContext, ROOT_CONTEXT, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Attributes, Context, Span, TimeInput } from '@opentelemetry/api';
import type { ContextManager, Span as BullMQSpan, SpanOptions as BullMQSpanOptions, Telemetry, Tracer as BullMQTracer } from 'bullmq';
import {
  emptyJobMetadata,
  formatJobMetadata,
  jobMetadataSetter,
  parseJobMetadata,
  type JobMetadataCarrier,
} from '../../src/carriers/job-metadata.js';
import { deferredContext } from '../../src/hop/deferred-context.js';
import { guard } from '../../src/base/diag.js';
import { resolveInbound } from '../../src/hop/decide.js';
import { startInboundHop } from '../../src/hop/inbound.js';
import { startOutboundHop } from '../../src/hop/outbound.js';
import { type InboundHop, type OutboundHop } from '../../src/hop/types.js';
import { tracer } from '../../src/base/tracer.js';
import { addAttributes, BULLMQ_ATTR, derivedAttributes, isScheduledJobId, jobIdOf, keptAttributes, operationOf } from './attributes.js';
import { recordJobDelivered } from './deliveries.js';
import { JOB_HOP_KEY, jobHopOptions, type JobHopMark } from './inbound.js';
import { bullmqSettings, type BullMQSettings, type SessionTelemetryOptions } from './options.js';

/** Stored metadata handed from `fromMetadata` to `startSpan`, parsed (undefined: none usable). */
interface PendingMetadata {
  carrier: JobMetadataCarrier | undefined;
}

/**
 * What `fromMetadata` returns: the active context, carrying the job's parsed metadata to
 * `startSpan` beside it rather than as a value in it (a value would cost a copy of the context to
 * add and another to remove). Anyone else reading it sees the active context.
 */
class MetadataContext implements Context {
  constructor(
    readonly base: Context,
    readonly pending: PendingMetadata,
  ) {}

  getValue(key: symbol): unknown {
    return this.base.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return this.base.setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return this.base.deleteValue(key);
  }
}

/** The queue each of our producer spans adds to, so that `getMetadata` signs with that queue's key. */
const producerQueues = new WeakMap<Span, string>();

const SPAN_KINDS: ReadonlySet<unknown> = new Set([
  SpanKind.INTERNAL,
  SpanKind.SERVER,
  SpanKind.CLIENT,
  SpanKind.PRODUCER,
  SpanKind.CONSUMER,
]);

function errorMessage(exception: unknown): string {
  if (typeof exception === 'string') return exception;
  if (typeof exception === 'object' && exception !== null && typeof (exception as { message?: unknown }).message === 'string') {
    return (exception as { message: string }).message;
  }
  return String(exception);
}

/** BullMQ's Span, backed by an OTel span (ours, or a hop's). Never throws into BullMQ. */
class SessionJobSpan implements BullMQSpan<Context> {
  private span: Span | undefined;
  private hop: InboundHop | OutboundHop | undefined;
  /** Inbound only: the context the job runs in. */
  private jobContext: Context | undefined;
  /** Inbound only: BullMQ's attributes reported before the span could start. */
  private readonly early: Attributes = {};
  private queueName: string | undefined;
  private operation: string | undefined;
  private readonly inbound: boolean;

  constructor(
    private readonly settings: BullMQSettings,
    private readonly name: string,
    private readonly kind: SpanKind,
    private readonly base: Context,
    private readonly pending: PendingMetadata | undefined,
  ) {
    this.inbound = pending !== undefined || kind === SpanKind.CONSUMER;
    if (this.inbound) return;
    if (kind === SpanKind.PRODUCER) {
      this.hop = startOutboundHop({ spanName: name, kind, parentContext: base });
      this.span = this.hop.span;
    } else {
      this.span = tracer().startSpan(name, { kind }, base);
    }
  }

  setSpanOnContext(ctx: Context): Context {
    return guard('bullmq: setSpanOnContext failed; the job runs in the context it was given', ctx, () => this.contextFor(ctx));
  }

  private contextFor(ctx: Context): Context {
    if (!this.inbound) return trace.setSpan(ctx ?? otelContext.active(), this.started());
    if (this.jobContext !== undefined) return this.jobContext;
    return deferredContext(() => {
      this.started();
      return this.jobContext ?? ctx;
    }, ctx);
  }

  setAttribute(key: string, value: unknown): void {
    this.setAttributes({ [key]: value });
  }

  setAttributes(attributes: Record<string, unknown>): void {
    guard('bullmq: recording span attributes failed', undefined, () => this.record(attributes));
  }

  private record(attributes: Record<string, unknown>): void {
    {
      const kept = keptAttributes(attributes, this.settings.recordPayloads);
      const learned = this.learn(kept);
      if (this.span === undefined) {
        Object.assign(this.early, kept);
        // The job id decides an inbound hop: start it now, before the job's code runs.
        if (kept[BULLMQ_ATTR.jobId] !== undefined) this.started();
        return;
      }
      this.span.setAttributes(kept);
      const derived = derivedAttributes(kept);
      if (derived !== undefined) this.span.setAttributes(derived);
      if (learned && this.queueName !== undefined && this.operation !== undefined) {
        const operationInfo = operationOf(this.queueName, this.operation);
        if (operationInfo !== undefined) {
          this.span.setAttributes(operationInfo.attributes);
          this.span.updateName(operationInfo.spanName);
        }
        if (this.kind === SpanKind.PRODUCER) producerQueues.set(this.span, this.queueName);
      }
    }
  }

  addEvent(name: string, attributes?: Record<string, unknown>, time?: TimeInput): void {
    guard('bullmq: recording a span event failed', undefined, () => {
      const span = this.started();
      const kept = attributes === undefined ? undefined : keptAttributes(attributes, this.settings.recordPayloads);
      span.addEvent(name, kept, time);
      // BullMQ reports a failed attempt only as this event; the span's status should say it too.
      if (name === 'job failed')
        span.setStatus({ code: SpanStatusCode.ERROR, message: String(attributes?.[BULLMQ_ATTR.failedReason] ?? 'job failed') });
    });
  }

  recordException(exception: unknown, time?: TimeInput): void {
    guard('bullmq: recording an exception failed', undefined, () => {
      const span = this.started();
      span.recordException(exception as Error, time);
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(exception) });
    });
  }

  end(): void {
    guard('bullmq: ending a span failed', undefined, () => {
      this.started();
      if (this.hop !== undefined) this.hop.end();
      else this.span?.end();
    });
  }

  /** Remembers the queue and operation when BullMQ reports them; true when this call did. */
  private learn(attributes: Attributes): boolean {
    const queue = attributes[BULLMQ_ATTR.queueName];
    const operation = attributes[BULLMQ_ATTR.operation];
    let learned = false;
    if (typeof queue === 'string' && queue !== this.queueName) {
      this.queueName = queue;
      learned = true;
    }
    if (typeof operation === 'string' && operation !== this.operation) {
      this.operation = operation;
      learned = true;
    }
    return learned;
  }

  /** The OTel span, starting the inbound hop if it has not started yet. */
  private started(): Span {
    if (this.span !== undefined) return this.span;
    guard('bullmq: the job hop failed; the job runs without its context', undefined, () => this.startInbound());
    if (this.span === undefined) {
      this.span = tracer().startSpan(this.name, { kind: this.kind }, this.base);
      this.jobContext ??= trace.setSpan(this.base, this.span);
    }
    return this.span;
  }

  private startInbound(): void {
    // BullMQ names spans `<operation> <queue>`; the attributes say it unambiguously, the name is the fallback.
    const space = this.name.indexOf(' ');
    const operation = this.operation ?? (space > 0 ? this.name.slice(0, space) : this.name);
    const queueName = this.queueName ?? (space > 0 ? this.name.slice(space + 1) : '');
    const jobId = jobIdOf(this.early[BULLMQ_ATTR.jobId]);
    const jobName = this.early[BULLMQ_ATTR.jobName];
    const info = { queueName, jobId, jobName: typeof jobName === 'string' ? jobName : undefined, scheduled: isScheduledJobId(jobId) };
    // `early` is this span's own object, read by nobody after this: it becomes the attributes.
    const attributes = this.early;
    addAttributes(attributes, derivedAttributes(attributes));
    const operationInfo = operationOf(queueName, operation);
    if (operationInfo !== undefined) addAttributes(attributes, operationInfo.attributes);
    const options = jobHopOptions(info, this.pending?.carrier, this.settings.forQueue(queueName), {
      name: operationInfo?.spanName ?? this.name,
      kind: this.kind,
      attributes,
      parentContext: this.base,
      propagator: this.settings.propagator,
    });
    if (this.kind === SpanKind.CONSUMER) {
      recordJobDelivered(queueName, operation);
      const hop = startInboundHop(options);
      const mark: JobHopMark = { queueName, jobId };
      this.hop = hop;
      this.span = hop.span;
      this.jobContext = hop.context.setValue(JOB_HOP_KEY, mark);
      return;
    }
    // BullMQ's other spans of a job (getNextJob) follow the job's placement without being a hop.
    const resolved = resolveInbound(options);
    this.span = tracer().startSpan(
      options.spanName,
      { kind: this.kind, attributes, links: resolved.links, root: resolved.root },
      resolved.parentContext,
    );
    this.jobContext = trace.setSpan(resolved.parentContext, this.span);
  }
}

/** A span for when even building ours failed: BullMQ's calls go nowhere. */
const NOOP_SPAN: BullMQSpan<Context> = {
  setSpanOnContext: (ctx) => ctx,
  setAttribute: () => undefined,
  setAttributes: () => undefined,
  addEvent: () => undefined,
  recordException: () => undefined,
  end: () => undefined,
};

class SessionJobTracer implements BullMQTracer<Context> {
  constructor(private readonly settings: BullMQSettings) {}

  startSpan(name: string, options?: BullMQSpanOptions, ctx?: Context): BullMQSpan<Context> {
    return guard('bullmq: starting a span failed; this operation is not traced', NOOP_SPAN, () => {
      const kind = SPAN_KINDS.has(options?.kind) ? (options!.kind as number as SpanKind) : SpanKind.INTERNAL;
      // Only the context BullMQ hands over carries a job's stored metadata, never the active one:
      // spans BullMQ starts while a job runs are that job's children, not new inbound hops.
      if (ctx instanceof MetadataContext) return new SessionJobSpan(this.settings, String(name), kind, ctx.base, ctx.pending);
      return new SessionJobSpan(this.settings, String(name), kind, ctx ?? otelContext.active(), undefined);
    });
  }
}

class SessionJobContextManager implements ContextManager<Context> {
  constructor(private readonly settings: BullMQSettings) {}

  // BullMQ's ContextManager declares `with` over any function; its signature is kept as declared.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  with<A extends (...args: any[]) => any>(ctx: Context, fn: A): ReturnType<A> {
    return otelContext.with(ctx, fn);
  }

  active(): Context {
    return otelContext.active();
  }

  /**
   * BullMQ 6 runs its worker's background loops (the stalled-jobs checker) in this context, so
   * that they do not stay, for the worker's lifetime, under whatever context created the worker
   * (a session's, for a worker built inside one). BullMQ 5 does not call it.
   */
  root(): Context {
    return ROOT_CONTEXT;
  }

  getMetadata(ctx: Context): string {
    return guard('bullmq: writing job metadata failed; the job goes without context', '', () => {
      const span = trace.getSpan(ctx);
      const queueName = span !== undefined ? producerQueues.get(span) : undefined;
      const carrier = emptyJobMetadata();
      startOutboundHop({
        spanName: 'bullmq metadata',
        startSpan: false,
        parentContext: ctx,
        signing: this.settings.forQueue(queueName).signing,
        ...(this.settings.propagator !== undefined ? { propagator: this.settings.propagator } : {}),
      }).inject(carrier, jobMetadataSetter);
      return formatJobMetadata(carrier);
    });
  }

  fromMetadata(activeContext: Context, metadata: string): Context {
    const base = activeContext ?? otelContext.active();
    return guard(
      'bullmq: reading job metadata failed; the job runs without its context',
      base,
      () => new MetadataContext(base, { carrier: parseJobMetadata(metadata) }),
    );
  }
}

/**
 * BullMQ telemetry that keeps the AgentOps session across queues: pass it as the `telemetry`
 * option of every Queue, Worker and FlowProducer (`new Worker(name, fn, { telemetry })`).
 * Bad options throw a TypeError here; nothing it does later throws into BullMQ.
 */
export function sessionTelemetry(options?: SessionTelemetryOptions): Telemetry<Context> {
  const settings = bullmqSettings(options, 'sessionTelemetry');
  return { tracer: new SessionJobTracer(settings), contextManager: new SessionJobContextManager(settings) };
}
