/**
 * HTTP through Python services on the stock OpenTelemetry Python SDK (test/interop/python/
 * http_relay.py: `propagate.extract` / `inject` with the default tracecontext and baggage
 * propagators, nothing of this library). A TypeScript session calls the Python service with
 * `sessionFetch`; the Python service calls a TypeScript Express or Fastify service back with the
 * headers its SDK injected. Several sessions are in flight at once in every test.
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionFetch } from '../../adapters/http/index.js';
import { createKeyring, startSession, withSession, type Session, type SigningKeyring } from '../../src/index.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';
import {
  PythonService,
  startExpressEndpoint,
  startFastifyEndpoint,
  waitFor,
  type EndpointAnswer,
  type PythonSpan,
  type TsEndpoint,
} from './python-services.js';

const t = useTracing();
const keyring = createKeyring('python-interop-signing-key-0123456789');

/** How a Python service passes the context on (see http_relay.py). */
interface Hop {
  url: string;
  forward?: 'context' | 'baggage';
  tamper?: 'id' | 'sig' | 'reencode' | 'unsigned';
}

/** What a Python service answers: what it saw, what it sent, and the next service's answer. */
interface RelayReply {
  service: string;
  sessionId: string | null;
  traceId: string;
  spanId: string;
  received: { traceparent: string | null; baggage: string | null };
  next: { clientSpanId: string; sent: { traceparent?: string; baggage?: string }; status: number; answer: RelayReply | EndpointAnswer };
}

let pythonA: PythonService;
let pythonB: PythonService;
const endpoints: Record<'plain' | 'signed', TsEndpoint[]> = { plain: [], signed: [] };

beforeAll(async () => {
  [pythonA, pythonB] = await Promise.all([
    PythonService.start('http_relay.py', ['python-a']),
    PythonService.start('http_relay.py', ['python-b']),
  ]);
  endpoints.plain = await Promise.all([startExpressEndpoint(), startFastifyEndpoint()]);
  endpoints.signed = await Promise.all([startExpressEndpoint({ signingKey: keyring }), startFastifyEndpoint({ signingKey: keyring })]);
});

afterAll(async () => {
  await Promise.all([...endpoints.plain, ...endpoints.signed].map((e) => e.close()));
  await Promise.all([pythonA?.stop(), pythonB?.stop()]);
});

/** One round trip: the session calls `pythonA` with `sessionFetch`, which follows `hops`. */
async function roundTrip(session: Session, hops: Hop[], signingKey: SigningKeyring | null = null): Promise<RelayReply> {
  const fetchWithSession = sessionFetch(undefined, { signingKey });
  const response = await withSession(session, () =>
    fetchWithSession(`${pythonA.url}/relay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hops }),
    }),
  );
  const body = (await response.json()) as RelayReply;
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body;
}

/** Starts `count` sessions, runs a round trip in each at once, and ends them. */
async function concurrentRoundTrips(
  count: number,
  hops: (i: number) => Hop[],
  signingKey: SigningKeyring | null = null,
): Promise<{ session: Session; reply: RelayReply }[]> {
  const sessions = Array.from({ length: count }, (_, i) => startSession({ name: `python-http-${i}` }));
  const replies = await Promise.all(sessions.map((session, i) => roundTrip(session, hops(i), signingKey)));
  for (const session of sessions) session.end();
  return sessions.map((session, i) => ({ session, reply: replies[i]! }));
}

/** The finished TypeScript span with this span id (a server span ends when its response is flushed). */
function tsSpan(spanId: string): Promise<ReadableSpan> {
  return waitFor(`TypeScript span ${spanId}`, () => t.spans().find((s) => s.spanContext().spanId === spanId));
}

/** The one CLIENT span `sessionFetch` made in the session. */
function fetchSpan(session: Session): ReadableSpan {
  const found = t.spans().filter((s) => s.name === 'POST' && s.spanContext().traceId === session.id);
  expect(found).toHaveLength(1);
  return found[0]!;
}

/** A Python service's SERVER and CLIENT spans of one reply, once both were reported. */
async function pythonSpans(service: PythonService, reply: RelayReply): Promise<{ server: PythonSpan; client: PythonSpan }> {
  const ids = new Set([reply.spanId, reply.next.clientSpanId]);
  await service.spansWhere(`spans ${[...ids].join(', ')}`, (s) => ids.has(s.spanId), 2);
  return { server: service.span(reply.spanId), client: service.span(reply.next.clientSpanId) };
}

/** Checks one Python hop in parent shape: read the session, continued the trace under `parent`. */
async function expectPythonHop(service: PythonService, reply: RelayReply, session: Session, parent: string): Promise<PythonSpan> {
  expect(reply.sessionId).toBe(session.id);
  expect(reply.traceId).toBe(session.id);
  const { server, client } = await pythonSpans(service, reply);
  expect(server).toMatchObject({ kind: 'SERVER', traceId: session.id, parentSpanId: parent, parentTraceId: session.id });
  expect(server.attributes['session.id']).toBe(session.id);
  expect(client).toMatchObject({ kind: 'CLIENT', traceId: session.id, parentSpanId: server.spanId });
  return client;
}

/** Checks the TypeScript endpoint's view and span for a hop from `pythonClient`. */
async function expectEndpointJoined(
  answer: EndpointAnswer,
  session: Session,
  shape: 'parent' | 'rejoin',
  pythonClient: PythonSpan,
): Promise<void> {
  expect(answer.sessionId).toBe(session.id);
  expect(answer.traceId).toBe(session.id);
  const server = await tsSpan(answer.spanId);
  expect(server.spanContext().traceId).toBe(session.id);
  expect(server.attributes['agentops.hop.trust']).toBe('trust');
  expect(server.attributes['agentops.hop.shape']).toBe(shape);
  expect(server.attributes['session.id']).toBe(session.id);
  if (shape === 'parent') {
    expect(parentSpanId(server)).toBe(pythonClient.spanId);
    expect(server.links).toEqual([]);
  } else {
    // The Python service sent the baggage alone: no caller span to link, the session root is the parent.
    expect(parentSpanId(server)).toBe(session.rootSpanId);
    expect(server.links).toEqual([]);
  }
}

const SESSIONS = 6;

describe.each([
  ['Express', 0],
  ['Fastify', 1],
] as const)('TypeScript -> Python (stock OTel SDK) -> TypeScript %s', (_framework, index) => {
  const plain = () => endpoints.plain[index]!;
  const signed = () => endpoints.signed[index]!;

  it('parent shape: the TS service sees the session, its span is the child of the Python client span; Python spans are in the session trace', async () => {
    const trips = await concurrentRoundTrips(SESSIONS, () => [{ url: plain().url }]);
    for (const { session, reply } of trips) {
      const tsClient = fetchSpan(session);
      expect(parentSpanId(tsClient)).toBe(session.rootSpanId);
      expect(reply.received.traceparent).toBe(`00-${session.id}-${tsClient.spanContext().spanId}-03`);
      const pythonClient = await expectPythonHop(pythonA, reply, session, tsClient.spanContext().spanId);
      // The stock SDK injected its own client span and passed every baggage member on unchanged.
      expect(reply.next.sent.traceparent).toBe(`00-${session.id}-${pythonClient.spanId}-03`);
      expect(reply.next.sent.baggage).toBe(reply.received.baggage);
      await expectEndpointJoined(reply.next.answer as EndpointAnswer, session, 'parent', pythonClient);
    }
  });

  it('rejoin shape: the Python service passes the baggage on without traceparent; the TS span rejoins under the session root', async () => {
    const trips = await concurrentRoundTrips(SESSIONS, () => [{ url: plain().url, forward: 'baggage' }]);
    for (const { session, reply } of trips) {
      const pythonClient = await expectPythonHop(pythonA, reply, session, fetchSpan(session).spanContext().spanId);
      expect(reply.next.sent.traceparent).toBeUndefined();
      await expectEndpointJoined(reply.next.answer as EndpointAnswer, session, 'rejoin', pythonClient);
    }
  });

  it('a chain of two Python services: every hop continues the previous one, the TS service ends the chain in the session', async () => {
    // Sessions alternate between a chain that keeps the traceparent and one whose second Python
    // service drops it.
    const trips = await concurrentRoundTrips(SESSIONS, (i) => [
      { url: `${pythonB.url}/relay` },
      { url: plain().url, forward: i % 2 === 0 ? 'context' : 'baggage' },
    ]);
    for (const [i, { session, reply }] of trips.entries()) {
      const clientA = await expectPythonHop(pythonA, reply, session, fetchSpan(session).spanContext().spanId);
      const replyB = reply.next.answer as RelayReply;
      expect(replyB.service).toBe('python-b');
      const clientB = await expectPythonHop(pythonB, replyB, session, clientA.spanId);
      await expectEndpointJoined(replyB.next.answer as EndpointAnswer, session, i % 2 === 0 ? 'parent' : 'rejoin', clientB);
    }
  });

  it('signed: the entry passed through one or two Python services still verifies, with and without traceparent', async () => {
    const routes: Hop[][] = [
      [{ url: signed().url }],
      [{ url: signed().url, forward: 'baggage' }],
      [{ url: `${pythonB.url}/relay` }, { url: signed().url }],
    ];
    const trips = await concurrentRoundTrips(routes.length * 2, (i) => routes[i % routes.length]!, keyring);
    for (const [i, { session, reply }] of trips.entries()) {
      expect(reply.received.baggage).toMatch(/(^|,)agentops\.session\.sig=v1\.[^,]+/);
      let last = reply;
      let lastClient = await expectPythonHop(pythonA, reply, session, fetchSpan(session).spanContext().spanId);
      if (i % routes.length === 2) {
        last = reply.next.answer as RelayReply;
        lastClient = await expectPythonHop(pythonB, last, session, lastClient.spanId);
      }
      expect(last.next.sent.baggage).toBe(reply.received.baggage);
      const shape = i % routes.length === 1 ? 'rejoin' : 'parent';
      await expectEndpointJoined(last.next.answer as EndpointAnswer, session, shape, lastClient);
    }
  });

  it.each(['id', 'sig', 'reencode', 'unsigned'] as const)(
    'signed: a Python service that alters the entry (%s) gets the session refused; the TS span starts a new trace linking the Python span',
    async (tamper) => {
      const trips = await concurrentRoundTrips(3, () => [{ url: signed().url, tamper }], keyring);
      for (const { session, reply } of trips) {
        const pythonClient = await expectPythonHop(pythonA, reply, session, fetchSpan(session).spanContext().spanId);
        expect(reply.next.sent.baggage).not.toBe(reply.received.baggage);
        const answer = reply.next.answer as EndpointAnswer;
        expect(answer.sessionId).toBeNull();
        expect(answer.traceId).not.toBe(session.id);
        // docs/http.md, "Signed sessions": a traceparent not backed by a valid signed entry of its
        // own trace is only linked.
        const server = await tsSpan(answer.spanId);
        expect(server.spanContext().traceId).toBe(answer.traceId);
        expect(parentSpanId(server)).toBeUndefined();
        expect(server.attributes['agentops.hop.trust']).toBe('link');
        expect(server.attributes['agentops.hop.shape']).toBe('root');
        expect(server.attributes['session.id']).toBeUndefined();
        expect(server.links.map((l) => [l.context.traceId, l.context.spanId])).toEqual([[session.id, pythonClient.spanId]]);
      }
    },
  );
});
