/**
 * The adapter docs/hop-engine.md shows, built from `agentops-propagation/hop` alone: a transport
 * that carries a plain record of string headers beside each message.
 */
import { SpanKind, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { messagingAttributes, runInboundHop, startOutboundHop, type TrustMode } from '../../src/engine.js';
import { getSessionId, startSession, withSession } from '../../src/index.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';

interface Envelope {
  body: string;
  headers: Readonly<Record<string, string>>;
}

const getter: TextMapGetter<Readonly<Record<string, string>>> = {
  get: (carrier, key) => carrier[key],
  keys: (carrier) => Object.keys(carrier),
};
const setter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

// --- the adapter, as in docs/hop-engine.md ---

function send(queue: string, body: string, headers: Readonly<Record<string, string>> = {}): Envelope {
  const hop = startOutboundHop({
    spanName: `send ${queue}`,
    kind: SpanKind.PRODUCER,
    attributes: messagingAttributes({ system: 'memory', destination: queue, operationType: 'send', operationName: 'send' }),
  });
  const copy = { ...headers }; // never the caller's object
  hop.inject(copy, setter);
  hop.end();
  return { body, headers: copy };
}

function receive<T>(queue: string, envelope: Envelope, trust: TrustMode, handler: (body: string) => T | Promise<T>): Promise<T> {
  return runInboundHop(
    {
      carrier: envelope.headers,
      getter,
      spanName: `process ${queue}`,
      kind: SpanKind.CONSUMER,
      attributes: messagingAttributes({ system: 'memory', destination: queue, operationType: 'process', operationName: 'process' }),
      trust,
    },
    () => handler(envelope.body),
  );
}

// --- what it gives ---

describe('an adapter written on the hop engine', () => {
  const t = useTracing();

  it('carries the session from send to process; the consumer span is the producer span’s child', async () => {
    const session = startSession();
    const envelope = withSession(session, () => send('jobs', 'hello'));
    const seen = await receive('jobs', envelope, 'trust', () => getSessionId());
    session.end();
    expect(seen).toBe(session.id);
    const producer = t.one('send jobs');
    const consumer = t.one('process jobs');
    expect(consumer.spanContext().traceId).toBe(session.id);
    expect(parentSpanId(consumer)).toBe(producer.spanContext().spanId);
    expect(consumer.attributes['session.id']).toBe(session.id);
    expect(consumer.attributes['messaging.system']).toBe('memory');
  });

  it("'link' keeps a caller out of the session: a new trace that links the producer span", async () => {
    const session = startSession();
    const envelope = withSession(session, () => send('jobs', 'hello'));
    const seen = await receive('jobs', envelope, 'link', () => getSessionId());
    session.end();
    expect(seen).toBeUndefined();
    const consumer = t.one('process jobs');
    expect(consumer.spanContext().traceId).not.toBe(session.id);
    expect(consumer.links.map((l) => l.context.spanId)).toContain(t.one('send jobs').spanContext().spanId);
  });

  it('never modifies the headers the caller passed, and a handler error is recorded and rethrown', async () => {
    const headers = Object.freeze({ 'x-user': 'u1' });
    const session = startSession();
    const envelope = withSession(session, () => send('jobs', 'hello', headers));
    session.end();
    expect(headers).toEqual({ 'x-user': 'u1' });
    expect(envelope.headers['x-user']).toBe('u1');
    const boom = new TypeError('boom');
    await expect(receive('jobs', envelope, 'trust', () => Promise.reject(boom))).rejects.toBe(boom);
    expect(t.one('process jobs').attributes['error.type']).toBe('TypeError');
  });
});
