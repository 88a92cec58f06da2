// In-process property runs of hostile input through each adapter's real wrapper, driven the way
// its library drives it: kafkajs' eachMessage / eachBatch payloads, BullMQ's own `trace` helper
// (the function its Worker and Queue call), Node's IncomingMessage through the Express
// middleware. Every case checks: nothing escapes, the input is untouched, what goes onward is
// valid W3C and carries only a session the input legitimately named.
//
// The same scenarios run with a few thousand cases in test/reliability and a million per carrier
// in test/long.

import { context, propagation, trace, type Attributes, type SpanContext } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { trace as bullmqTrace, SpanKind as BullMQSpanKind } from 'bullmq';
import fc from 'fast-check';
import type { Consumer, EachBatchPayload, EachMessagePayload, KafkaMessage, Producer } from 'kafkajs';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { sessionTelemetry, withJobContext } from '../../adapters/bullmq/index.js';
import { sessionMiddleware } from '../../adapters/express/index.js';
import { injectSessionHeaders } from '../../adapters/http/index.js';
import {
  instrumentConsumer,
  instrumentProducer,
  type InstrumentedConsumerRunConfig,
  type InstrumentedEachBatchPayload,
} from '../../adapters/kafkajs/index.js';
import { getSessionId, type TrustMode } from '../../src/index.js';
import {
  deepFreeze,
  FUZZ_SIGNING_KEY,
  incomingHeaders,
  jobMetadata,
  kafkaHeaders,
  randomBytes,
  sameData,
  SESSION_A,
  SIGNATURE_OF_A,
  snapshot,
  userHttpHeaders,
} from './hostile.js';
import { baggageProblems, outboundProblems, outboundSessionId } from './w3c-oracle.js';

/** Figures of one run, for the assertions that the run was not trivial and for the report. */
export interface FuzzFigures {
  /** Generated cases (one carrier, or one Kafka batch of up to three messages). */
  cases: number;
  /** Inbound hops run (messages, requests, jobs). */
  hops: number;
  /** Hops whose work ran in a session taken from the input. */
  sessionsAccepted: number;
  /** Hops that sent a valid traceparent onward. */
  traceparentsSent: number;
}

/** The trust / signing / shape combinations every carrier is fuzzed under. */
export interface Variant {
  /** The receiving hop's trust mode. */
  trust: TrustMode;
  /** Whether the receiving hop verifies signatures (with FUZZ_SIGNING_KEY). */
  signed: boolean;
  /** The receiving hop's shape for trusted input. */
  shape: 'parent' | 'rejoin';
}
/** Every combination of trust, signing and shape. */
export const VARIANTS: readonly Variant[] = (['trust', 'link', 'ignore'] as const).flatMap((trust) =>
  [false, true].flatMap((signed) => (['parent', 'rejoin'] as const).map((shape) => ({ trust, signed, shape }))),
);
/** Picks one of {@link VARIANTS}. */
export const variantIndex = fc.nat({ max: VARIANTS.length - 1 });

/** Every string in a carrier, Buffers read both as UTF-8 and as Latin-1. */
export function inputText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return `${value.toString('utf8')}\n${value.toString('latin1')}`;
  if (Array.isArray(value)) return value.map(inputText).join('\n');
  if (typeof value === 'object' && value !== null)
    return Object.keys(value)
      .map((k) => inputText((value as Record<string, unknown>)[k]))
      .join('\n');
  return '';
}

/** What one hop did with its input, as seen from inside the handler and on the wire. */
export interface HopResult {
  /** `getSessionId()` inside the handler. */
  session: string | undefined;
  /** The W3C fields the handler's outbound hop wrote. */
  outbound: Record<string, unknown>;
  /** The handler's active span: its context, and its attributes when it records. */
  span: { context: SpanContext; attributes: Attributes | undefined } | undefined;
}

/** The active span as a {@link HopResult} records it. */
export function activeSpan(): HopResult['span'] {
  const span = trace.getActiveSpan();
  if (span === undefined) return undefined;
  return { context: span.spanContext(), attributes: span.isRecording() ? (span as unknown as ReadableSpan).attributes : undefined };
}

/**
 * The checks every hop must pass. Returns the problems (empty when the hop behaved):
 * - what went onward is valid W3C;
 * - a session goes onward only where it was allowed: never from ignore, from link only with a
 *   valid signature, with a verifying key only from the correctly signed entry, and never one
 *   the input did not name; an untrusted caller's baggage never goes onward at all;
 * - the handler's session is the one it sends onward, and the outbound span is in its trace.
 */
export function hopProblems(result: HopResult, variant: Variant, input: string): string[] {
  const problems = outboundProblems(result.outbound);
  const sent = outboundSessionId(result.outbound.baggage);
  if (sent !== result.session) problems.push(`handler in session ${String(result.session)} sent session ${String(sent)}`);
  if (result.session !== undefined) {
    if (variant.trust === 'ignore') problems.push('ignore mode accepted a session');
    if (variant.trust === 'link' && !variant.signed) problems.push('link mode accepted an unsigned session');
    if (variant.signed && (result.session !== SESSION_A || !input.includes(SIGNATURE_OF_A))) {
      problems.push(`verifying hop accepted session ${result.session} without a valid signature`);
    }
    if (!input.includes(result.session)) problems.push(`session ${result.session} is not in the input`);
    const traceId = typeof result.outbound.traceparent === 'string' ? result.outbound.traceparent.slice(3, 35) : undefined;
    if (traceId !== result.session) problems.push(`session ${result.session} sent with a traceparent of trace ${String(traceId)}`);
    if (result.span?.context.traceId !== result.session)
      problems.push(`handler span in trace ${String(result.span?.context.traceId)} for session ${result.session}`);
  } else if (variant.trust !== 'trust' && result.outbound.baggage !== undefined) {
    problems.push(`an untrusted caller's baggage went onward: ${String(result.outbound.baggage).slice(0, 80)}`);
  }
  const stamped = result.span?.attributes?.['session.id'];
  if (result.span?.attributes !== undefined && stamped !== result.session)
    problems.push(`handler span stamped ${String(stamped)} in session ${String(result.session)}`);
  // A trusted caller's other entries travel on; nothing is invented. The session's own members
  // are the library's to write (the vetted entry, in the current form whatever form came in).
  for (const member of baggageProblems(result.outbound.baggage ?? '').members) {
    if (member.key.startsWith('agentops.session.')) {
      if (result.session === undefined) problems.push(`session member ${member.key} sent without a session`);
    } else if (member.key !== '' && !input.includes(member.key)) problems.push(`baggage key ${member.key} is not in the input`);
  }
  return problems;
}

export function tallyHop(figures: FuzzFigures, result: HopResult): void {
  figures.hops++;
  if (result.session !== undefined) figures.sessionsAccepted++;
  if (result.outbound.traceparent !== undefined) figures.traceparentsSent++;
}

function fail(what: string, problems: string[], input: unknown): never {
  throw new Error(`${what}: ${problems.join('; ')}\ninput: ${inputText(input).slice(0, 400)}`);
}

// ---------------------------------------------------------------------------------------------
// Kafka

const W3C = new Set(['traceparent', 'tracestate', 'baggage']);

export function w3cFields(headers: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(headers ?? {})) if (W3C.has(key.toLowerCase())) out[key] = headers![key];
  return out;
}

/**
 * A kafkajs producer whose `send` records what the instrumented wrapper handed it and settles as
 * kafkajs does after the broker's acknowledgement.
 */
function recordingProducer(): { producer: Producer; sent: () => Record<string, unknown> | undefined } {
  let last: { messages: { headers?: Record<string, unknown> }[] } | undefined;
  const producer = {
    send: async (record: typeof last) => {
      last = record;
      return [];
    },
    sendBatch: async () => [],
  } as unknown as Producer;
  return { producer, sent: () => last?.messages[0]?.headers };
}

/** The handlers kafkajs would call on a consumer instrumented for one variant. */
interface KafkaVariantHandlers {
  eachMessage(payload: EachMessagePayload): Promise<void>;
  eachBatch(payload: EachBatchPayload): Promise<void>;
}

function kafkaHandlers(variant: Variant, onResult: (result: HopResult) => void): KafkaVariantHandlers {
  const { producer, sent } = recordingProducer();
  const out = instrumentProducer(producer, { signingKey: null });
  const work = async () => {
    await out.send({ topic: 'onward', messages: [{ value: 'v', headers: { 'x-user': 'u' } }] });
    const headers = sent();
    if (headers?.['x-user'] !== 'u') throw new Error('the user header of the onward message was lost');
    onResult({ session: getSessionId(), outbound: w3cFields(headers), span: activeSpan() });
  };
  const configs: InstrumentedConsumerRunConfig[] = [];
  const consumer = { run: async (config: InstrumentedConsumerRunConfig) => void configs.push(config) } as unknown as Consumer;
  const instrumented = instrumentConsumer(consumer, {
    trust: variant.trust,
    shape: variant.shape,
    batchShape: variant.shape,
    signingKey: variant.signed ? FUZZ_SIGNING_KEY : null,
    groupId: 'fuzz',
  });
  void instrumented.run({ eachMessage: async () => work() });
  void instrumented.run({
    eachBatch: async ({ batch, withMessageContext }: InstrumentedEachBatchPayload) => {
      for (const message of batch.messages) await withMessageContext(message, work);
    },
  });
  return { eachMessage: configs[0]!.eachMessage!, eachBatch: configs[1]!.eachBatch as unknown as (p: EachBatchPayload) => Promise<void> };
}

const kafkaMessage = fc.record({
  headers: kafkaHeaders,
  value: randomBytes(32),
  key: fc.option(randomBytes(8), { nil: null }),
  frozen: fc.boolean(),
});

/**
 * Hostile Kafka headers (Buffers, strings, arrays, nulls, repeated and mis-cased keys, invalid
 * UTF-8) through an instrumented consumer's eachMessage and eachBatch + withMessageContext, each
 * message's handler producing onward through an instrumented producer.
 */
export async function fuzzKafkaCarrier(numRuns: number, seed?: number): Promise<FuzzFigures> {
  const figures: FuzzFigures = { cases: 0, hops: 0, sessionsAccepted: 0, traceparentsSent: 0 };
  const results: HopResult[] = [];
  const handlers = VARIANTS.map((v) => kafkaHandlers(v, (r) => results.push(r)));
  let offset = 0;
  await fc.assert(
    fc.asyncProperty(variantIndex, fc.boolean(), fc.array(kafkaMessage, { minLength: 1, maxLength: 3 }), async (vi, batchMode, specs) => {
      figures.cases++;
      const variant = VARIANTS[vi]!;
      const messages = specs.slice(0, batchMode ? 3 : 1).map(({ headers, value, key, frozen }): KafkaMessage => {
        const message = { key, value, headers, offset: String(offset++), timestamp: '0', attributes: 0, size: 0 };
        return (frozen ? deepFreeze(message) : message) as unknown as KafkaMessage;
      });
      const before = messages.map(snapshot);
      results.length = 0;
      const noop = async () => undefined;
      if (batchMode) {
        const batch = { topic: 'fuzz', partition: 0, highWatermark: '0', messages } as unknown as EachBatchPayload['batch'];
        await handlers[vi]!.eachBatch({
          batch,
          resolveOffset: () => undefined,
          heartbeat: noop,
          pause: () => () => undefined,
          commitOffsetsIfNecessary: noop,
          uncommittedOffsets: () => ({ topics: [] }),
          isRunning: () => true,
          isStale: () => false,
        } as unknown as EachBatchPayload);
      } else {
        await handlers[vi]!.eachMessage({
          topic: 'fuzz',
          partition: 0,
          message: messages[0]!,
          heartbeat: noop,
          pause: () => () => undefined,
        });
      }
      if (results.length !== messages.length) fail('kafka', [`${messages.length} messages, ${results.length} handler runs`], messages);
      messages.forEach((message, i) => {
        if (!sameData(message, before[i])) fail('kafka', ['the message was modified'], before[i]);
        const problems = hopProblems(results[i]!, variant, inputText(message.headers));
        if (problems.length > 0)
          fail(`kafka (${JSON.stringify(variant)}, ${batchMode ? 'eachBatch' : 'eachMessage'})`, problems, message.headers);
        tallyHop(figures, results[i]!);
      });
    }),
    { numRuns, ...(seed !== undefined ? { seed } : {}) },
  );
  return figures;
}

// ---------------------------------------------------------------------------------------------
// HTTP

/** The name `record` spells `name` with (case-insensitively), if any. */
function spelling(record: Record<string, unknown>, name: string): string | undefined {
  return Object.keys(record).find((k) => k.toLowerCase() === name);
}

/**
 * What `injectSessionHeaders` returned for hostile user headers: strings only, the user's own
 * traceparent kept, ours valid where we wrote it, and the session merged into their baggage.
 */
function userHeaderProblems(out: Record<string, string>, given: unknown, session: string | undefined): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(out)) if (typeof out[key] !== 'string') problems.push(`header ${key} is not a string`);
  const givenRecord = typeof given === 'object' && given !== null && !Array.isArray(given) ? (given as Record<string, unknown>) : {};
  const givenTraceparent = Array.isArray(given)
    ? given.some((v) => (Array.isArray(v) ? v[0] : v)?.toString().toLowerCase() === 'traceparent')
    : spelling(givenRecord, 'traceparent') !== undefined;
  const traceparent = spelling(out, 'traceparent');
  if (!givenTraceparent && traceparent !== undefined) problems.push(...outboundProblems({ traceparent: out[traceparent] }));
  const baggage = spelling(out, 'baggage');
  if (session !== undefined) {
    if (baggage === undefined || outboundSessionId(out[baggage]) !== session)
      problems.push(`session ${session} not sent with the user's headers`);
    else problems.push(...baggageProblems(out[baggage]).problems);
  }
  return problems;
}

function middlewareFor(variant: Variant) {
  return sessionMiddleware({ trust: variant.trust, shape: variant.shape, signingKey: variant.signed ? FUZZ_SIGNING_KEY : null });
}

/**
 * Hostile request headers (as Node hands them in `req.headers`) through the Express middleware,
 * the handler calling out with `injectSessionHeaders`, whose own input is hostile too (any shape
 * user code may pass: wrong types, repeated and mis-cased W3C names).
 */
export async function fuzzHttpCarrier(numRuns: number, seed?: number): Promise<FuzzFigures> {
  const figures: FuzzFigures = { cases: 0, hops: 0, sessionsAccepted: 0, traceparentsSent: 0 };
  const middlewares = VARIANTS.map(middlewareFor);
  fc.assert(
    fc.property(variantIndex, incomingHeaders, userHttpHeaders, fc.boolean(), (vi, headers, userHeaders, frozen) => {
      figures.cases++;
      const variant = VARIANTS[vi]!;
      const req = new IncomingMessage(new Socket());
      req.method = 'POST';
      req.url = '/agents/run?x=1';
      req.headers = (frozen ? deepFreeze(headers) : headers) as IncomingMessage['headers'];
      const res = new ServerResponse(req);
      const before = snapshot(headers);
      const userBefore = snapshot(userHeaders);
      let result: HopResult | undefined;
      let userResult: Record<string, string> | undefined;
      middlewares[vi]!(req, res, (err?: unknown) => {
        if (err !== undefined) throw err;
        const outbound = injectSessionHeaders({ 'x-user': 'u' }, 'http://10.1.2.3:8080/next');
        if (outbound['x-user'] !== 'u') throw new Error('the user header of the onward request was lost');
        result = { session: getSessionId(), outbound: w3cFields(outbound), span: activeSpan() };
        userResult = injectSessionHeaders(userHeaders as Parameters<typeof injectSessionHeaders>[0], 'http://10.1.2.3:8080/next');
      });
      res.emit('finish');
      if (result === undefined || userResult === undefined) fail('http', ['the handler did not run'], headers);
      if (!sameData(headers, before)) fail('http', ['req.headers was modified'], before);
      if (!sameData(userHeaders, userBefore)) fail('http', ["the user's outbound headers were modified"], userBefore);
      const problems = hopProblems(result, variant, inputText(headers));
      problems.push(...userHeaderProblems(userResult, userHeaders, result.session));
      if (problems.length > 0) fail(`http (${JSON.stringify(variant)})`, problems, headers);
      tallyHop(figures, result);
    }),
    { numRuns, ...(seed !== undefined ? { seed } : {}) },
  );
  return figures;
}

// ---------------------------------------------------------------------------------------------
// BullMQ

/**
 * Hostile stored metadata (not JSON, wrong types, someone else's fields, near-valid W3C) through
 * BullMQ's own `trace` helper exactly as its Worker calls it, with `sessionTelemetry`, and
 * through `withJobContext` as a sandboxed processor receives the job; the processor adds a job
 * onward, whose metadata BullMQ's Queue would store.
 */
export async function fuzzJobMetadataCarrier(numRuns: number, seed?: number): Promise<FuzzFigures> {
  const figures: FuzzFigures = { cases: 0, hops: 0, sessionsAccepted: 0, traceparentsSent: 0 };
  const policies = VARIANTS.map((v) => ({ trust: v.trust, shape: v.shape, signingKey: v.signed ? FUZZ_SIGNING_KEY : null }));
  const telemetries = policies.map((p) => sessionTelemetry(p));
  const outboundTelemetry = sessionTelemetry({ signingKey: null });
  let lastResult: HopResult | undefined;
  const processor = async () => {
    const metadata = await bullmqTrace(
      outboundTelemetry,
      BullMQSpanKind.PRODUCER,
      'onward',
      'add',
      'onward.next',
      async (_span, dst) => dst,
    );
    let outbound: Record<string, unknown> = {};
    if (metadata !== undefined && metadata !== '') outbound = JSON.parse(metadata) as Record<string, unknown>;
    lastResult = { session: getSessionId(), outbound, span: activeSpan() };
    return 'done';
  };
  const sandboxed = policies.map((p) => withJobContext(processor, p));
  let jobId = 0;
  await fc.assert(
    fc.asyncProperty(variantIndex, jobMetadata, fc.boolean(), async (vi, metadata, viaSandbox) => {
      figures.cases++;
      const variant = VARIANTS[vi]!;
      const before = snapshot(metadata);
      lastResult = undefined;
      const id = String(++jobId);
      if (viaSandbox) {
        // What a sandboxed processor receives: the job as stored, options in BullMQ's encoding.
        const job = { id, name: 'fuzz', queueName: 'fuzz', attemptsMade: 0, opts: { tm: metadata } };
        await sandboxed[vi]!(job);
      } else {
        // BullMQ's Worker: trace(CONSUMER, 'process') with the job's stored metadata when it has any.
        await bullmqTrace(
          telemetries[vi],
          BullMQSpanKind.CONSUMER,
          'fuzz',
          'process',
          'fuzz',
          async (span) => {
            span?.setAttributes({ 'bullmq.worker.id': 'w', 'bullmq.job.id': id, 'bullmq.job.name': 'fuzz' });
            return processor();
          },
          metadata as string,
        );
      }
      if (lastResult === undefined) fail('bullmq', ['the processor did not run'], metadata);
      if (!sameData(metadata, before)) fail('bullmq', ['the metadata was modified'], before);
      const problems = hopProblems(lastResult, variant, inputText(metadata));
      if (problems.length > 0)
        fail(`bullmq (${JSON.stringify(variant)}, ${viaSandbox ? 'withJobContext' : 'telemetry'})`, problems, metadata);
      tallyHop(figures, lastResult);
    }),
    { numRuns, ...(seed !== undefined ? { seed } : {}) },
  );
  return figures;
}

/** Propagation state must not leak out of a run: no active span, no baggage outside the hops. */
export function leakedContext(): string[] {
  const problems: string[] = [];
  if (trace.getActiveSpan() !== undefined) problems.push('a span is still active');
  if (propagation.getBaggage(context.active()) !== undefined) problems.push('baggage is still active');
  return problems;
}
