import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { request as httpRequest } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { injectSessionHeaders, sessionFetch } from '../../adapters/http/index.js';
import { createKeyring, startSession, withSession } from '../../src/index.js';
import { parentSpanId, setupTracing, type TestTracing } from '../helpers/otel.js';
import { recordingServer, resolvingFetch, sessionInBaggage, type Seen } from './helpers.js';

let t: TestTracing;
let internal: Awaited<ReturnType<typeof recordingServer>>;
let publicSite: Awaited<ReturnType<typeof recordingServer>>;
let world: typeof fetch;
beforeAll(async () => {
  t = setupTracing();
  internal = await recordingServer();
  publicSite = await recordingServer();
  // api.public.example resolves to a local server: the policy sees a public name, no traffic leaves.
  world = resolvingFetch({ 'api.public.example': publicSite.port, 'partner.example': publicSite.port });
});
afterEach(() => {
  t.reset();
  internal.seen.length = 0;
  publicSite.seen.length = 0;
});
afterAll(async () => {
  await internal.close();
  await publicSite.close();
  await t.shutdown();
});

/** DNS for the test: every name resolves to loopback (the server behind the "public" name). */
const loopbackLookup = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
  if (options.all === true) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
}) as never;
const publicUrl = () => `http://api.public.example:${publicSite.port}`;
const W3C_NAMES = ['traceparent', 'tracestate', 'baggage'];
const w3cHeaders = (seen: Seen) => Object.keys(seen.headers).filter((k) => W3C_NAMES.includes(k));

describe('sessionFetch', () => {
  it('sends traceparent and the session to an internal target, with one CLIENT span', async () => {
    const session = startSession();
    const fetchWithSession = sessionFetch();
    const response = await withSession(session, () =>
      fetchWithSession(`${internal.url}/run?token=abc`, { method: 'post', body: 'hi', headers: { 'x-user': 'u1' } }),
    );
    session.end();
    expect(response.status).toBe(200);
    const seen = internal.seen[0]!;
    expect(seen.method).toBe('POST');
    expect(seen.body).toBe('hi');
    expect(seen.headers['x-user']).toBe('u1');
    expect(sessionInBaggage(seen.headers.baggage)).toBe(session.id);
    const span = t.one('POST');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(seen.headers.traceparent).toBe(`00-${session.id}-${span.spanContext().spanId}-03`);
    expect(parentSpanId(span)).toBe(session.rootSpanId);
    expect(span.attributes).toMatchObject({
      'http.request.method': 'POST',
      'url.full': `${internal.url}/run?token=abc`,
      'server.address': '127.0.0.1',
      'server.port': internal.port,
      'http.response.status_code': 200,
      'session.id': session.id,
    });
  });

  it('a public host gets neither traceparent nor baggage, but the call still has its span', async () => {
    const session = startSession();
    const fetchWithSession = sessionFetch(world);
    const response = await withSession(session, () => fetchWithSession(`${publicUrl()}/v1/chat`, { headers: { baggage: 'user=1' } }));
    session.end();
    expect(response.status).toBe(200);
    expect(publicSite.seen).toHaveLength(1);
    // The caller's own baggage header is theirs to send; nothing of ours is added.
    expect(publicSite.seen[0]!.headers.baggage).toBe('user=1');
    expect(publicSite.seen[0]!.headers.traceparent).toBeUndefined();
    expect(t.one('GET').attributes['server.address']).toBe('api.public.example');
  });

  it('allowlists open a public host per field', async () => {
    const session = startSession();
    const traceOnly = sessionFetch(world, { traceparentTargets: [`http://api.public.example:${publicSite.port}`] });
    const both = sessionFetch(world, { targets: [/^http:\/\/partner\.example:\d+\/agents\//] });
    await withSession(session, async () => {
      await traceOnly(`${publicUrl()}/x`);
      await both(`http://partner.example:${publicSite.port}/agents/critic`);
      await both(`http://partner.example:${publicSite.port}/other`);
    });
    session.end();
    const [first, second, third] = publicSite.seen;
    expect(first!.headers.traceparent).toMatch(new RegExp(`^00-${session.id}-`));
    expect(first!.headers.baggage).toBeUndefined();
    expect(sessionInBaggage(second!.headers.baggage)).toBe(session.id);
    expect(w3cHeaders(third!)).toEqual([]);
  });

  it('a redirect to a public host gets none of our headers; back to an internal one it gets them again', async () => {
    const session = startSession();
    const fetchWithSession = sessionFetch(world);
    const back = `${internal.url}/landing`;
    const hop2 = `${publicUrl()}/redirect/307?to=${encodeURIComponent(back)}`;
    const start = `${internal.url}/redirect/302?to=${encodeURIComponent(hop2)}`;
    const response = await withSession(session, () =>
      fetchWithSession(start, { headers: { authorization: 'Bearer secret', cookie: 'c=1' } }),
    );
    session.end();
    expect(response.status).toBe(200);
    expect(response.redirected).toBe(true);
    expect(response.url).toBe(back);
    const [first, last] = internal.seen;
    expect(sessionInBaggage(first!.headers.baggage)).toBe(session.id);
    expect(first!.headers.authorization).toBe('Bearer secret');
    expect(w3cHeaders(publicSite.seen[0]!)).toEqual([]);
    // Fetch drops credentials across origins, and they never come back.
    expect(publicSite.seen[0]!.headers.authorization).toBeUndefined();
    expect(publicSite.seen[0]!.headers.cookie).toBeUndefined();
    expect(sessionInBaggage(last!.headers.baggage)).toBe(session.id);
    expect(last!.path).toBe('/landing');
    const span = t.one('GET');
    expect(span.attributes['http.request.resend_count']).toBe(2);
    expect(last!.headers.traceparent).toBe(`00-${session.id}-${span.spanContext().spanId}-03`);
  });

  it('a 302 from an internal host to a public one delivers none of the session, not even headers the caller copied', async () => {
    const session = startSession();
    const fetchWithSession = sessionFetch(world);
    const start = `${internal.url}/redirect/302?to=${encodeURIComponent(`${publicUrl()}/v1/chat`)}`;
    // Inbound headers the caller copied onto its request: the session's traceparent, tracestate,
    // our baggage members (the session entry, an agentops.* member) beside another tool's member.
    const copied = {
      Traceparent: `00-${session.id}-${'1'.repeat(16)}-01`,
      TraceState: 'vendor=abc',
      Baggage: `agentops.session.id=${session.id};root=${'2'.repeat(16)},agentops.user=u1,tenant=acme`,
      b3: `${session.id}-${'3'.repeat(16)}-1`,
      'X-B3-TraceId': session.id,
      'sentry-trace': `${session.id}-${'4'.repeat(16)}-1`,
    };
    const response = await withSession(session, () => fetchWithSession(start, { headers: copied }));
    session.end();
    expect(response.status).toBe(200);
    expect(response.redirected).toBe(true);
    expect(sessionInBaggage(internal.seen[0]!.headers.baggage)).toBe(session.id);
    expect(publicSite.seen).toHaveLength(1);
    const got = publicSite.seen[0]!;
    expect(got.path).toBe('/v1/chat');
    for (const name of ['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'sentry-trace']) expect(got.headers[name]).toBeUndefined();
    // Another tool's member follows its own rules; none of ours, and no header names the session.
    expect(got.headers.baggage).toBe('tenant=acme');
    expect(JSON.stringify(got.headers)).not.toContain(session.id);
  });

  it('keeps fetch redirect semantics: 303 and POST on 301/302 become GET without body; 307/308 resend it', async () => {
    const fetchWithSession = sessionFetch();
    const to = encodeURIComponent(`${internal.url}/target`);
    for (const [status, method, body] of [
      [303, 'GET', ''],
      [302, 'GET', ''],
      [301, 'GET', ''],
      [307, 'POST', '{"a":1}'],
      [308, 'POST', '{"a":1}'],
    ] as const) {
      internal.seen.length = 0;
      const response = await fetchWithSession(`${internal.url}/redirect/${status}?to=${to}`, {
        method: 'POST',
        body: '{"a":1}',
        headers: { 'content-type': 'application/json' },
      });
      expect(response.status).toBe(200);
      const target = internal.seen[1]!;
      expect([status, target.method, target.body]).toEqual([status, method, body]);
      expect(target.headers['content-type']).toBe(method === 'GET' ? undefined : 'application/json');
    }
  });

  it('resends the body of a Request input on 307', async () => {
    const fetchWithSession = sessionFetch();
    const to = encodeURIComponent(`${internal.url}/target`);
    const request = new Request(`${internal.url}/redirect/307?to=${to}`, { method: 'PUT', body: 'payload', headers: { 'x-r': '1' } });
    const response = await fetchWithSession(request);
    expect(response.status).toBe(200);
    expect(internal.seen.map((s) => [s.method, s.body, s.headers['x-r']])).toEqual([
      ['PUT', 'payload', '1'],
      ['PUT', 'payload', '1'],
    ]);
    expect(internal.seen[1]!.headers.traceparent).toBeDefined();
  });

  it("honours redirect: 'manual' and 'error', and the redirect limit", async () => {
    const fetchWithSession = sessionFetch(undefined, { maxRedirects: 1 });
    const to = encodeURIComponent(`${internal.url}/target`);
    const manual = await fetchWithSession(`${internal.url}/redirect/302?to=${to}`, { redirect: 'manual' });
    expect(manual.status).toBe(302);
    expect(internal.seen).toHaveLength(1);
    await expect(fetchWithSession(`${internal.url}/redirect/302?to=${to}`, { redirect: 'error' })).rejects.toThrow(TypeError);
    const twice = encodeURIComponent(`${internal.url}/redirect/302?to=${to}`);
    await expect(fetchWithSession(`${internal.url}/redirect/302?to=${twice}`)).rejects.toThrow(TypeError);
    const failed = t.spans().filter((s) => s.status.code === SpanStatusCode.ERROR);
    expect(failed).toHaveLength(2);
  });

  it('never modifies the caller’s headers or Request, and works with frozen headers', async () => {
    const session = startSession();
    const headers = Object.freeze({ 'X-A': '1', baggage: 'user=1' });
    const init = Object.freeze({ headers });
    const fetchWithSession = sessionFetch();
    await withSession(session, () => fetchWithSession(`${internal.url}/a`, init));
    const request = new Request(`${internal.url}/b`, { headers: { 'x-b': '2' } });
    await withSession(session, () => fetchWithSession(request));
    session.end();
    expect(headers).toEqual({ 'X-A': '1', baggage: 'user=1' });
    expect([...request.headers.keys()]).toEqual(['x-b']);
    expect(internal.seen[0]!.headers.baggage).toContain('user=1');
    expect(sessionInBaggage(internal.seen[0]!.headers.baggage)).toBe(session.id);
    expect(sessionInBaggage(internal.seen[1]!.headers.baggage)).toBe(session.id);
  });

  it('a network error is recorded on the span and rethrown unchanged', async () => {
    const fetchWithSession = sessionFetch();
    const failure = new Error('connection refused (test)');
    const failing = sessionFetch(() => Promise.reject(failure));
    await expect(failing(`${internal.url}/x`)).rejects.toBe(failure);
    const span = t.one('GET');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('Error');
    // A URL fetch cannot parse is fetch's own error, without a span.
    await expect(fetchWithSession('not a url')).rejects.toThrow(TypeError);
  });

  it('a 4xx or 5xx answer fails the client span', async () => {
    const fetchWithSession = sessionFetch((input) => fetch(String(input).replace('/fail', '/redirect/500')));
    const response = await fetchWithSession(`${internal.url}/fail`);
    expect(response.status).toBe(500);
    expect(t.one('GET').attributes['error.type']).toBe('500');
  });

  it('redacts credentials and signatures in url.full', async () => {
    const fetchWithSession = sessionFetch();
    await fetchWithSession(`http://user:pw@127.0.0.1:${internal.port}/s?Signature=abc&x=1`).catch(() => undefined);
    await fetchWithSession(`${internal.url}/s?Signature=abc&x=1#frag`);
    const full = t.spans().map((s) => s.attributes['url.full']);
    expect(full).toContain(`${internal.url}/s?Signature=REDACTED&x=1`);
    for (const value of full) expect(String(value)).not.toMatch(/pw|abc|frag/);
  });

  it('signs the session entry with a key', async () => {
    const keyring = createKeyring('fetch-test-signing-key-0123456789');
    const session = startSession();
    await withSession(session, () => sessionFetch(undefined, { signingKey: keyring })(`${internal.url}/s`));
    session.end();
    expect(internal.seen[0]!.headers.baggage).toMatch(/sig=v1\.k0\./);
  });

  it('invalid options are TypeErrors at setup', () => {
    expect(() => sessionFetch('fetch' as never)).toThrow(TypeError);
    expect(() => sessionFetch(undefined, { targets: ['example.com'] })).toThrow(TypeError);
    expect(() => sessionFetch(undefined, { maxRedirects: -1 })).toThrow(TypeError);
    expect(() => sessionFetch(undefined, { override: 'yes' as never })).toThrow(TypeError);
    expect(() => sessionFetch(undefined, { overideTraceparent: true } as never)).toThrow(/did you mean "overrideTraceparent"/);
    expect(() => injectSessionHeaders({}, 'http://127.0.0.1/', { target: [] } as never)).toThrow(
      /injectSessionHeaders options has no option "target" \(did you mean "targets"\?\)/,
    );
  });
});

describe('injectSessionHeaders', () => {
  it('returns a new object for node:http, with our fields, and starts no span', async () => {
    const session = startSession();
    const input = Object.freeze({ 'Content-Type': 'text/plain' });
    const headers = withSession(session, () => injectSessionHeaders(input, `${internal.url}/n`));
    expect(headers).not.toBe(input);
    expect(input).toEqual({ 'Content-Type': 'text/plain' });
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${internal.url}/n`, { method: 'POST', headers }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end('body');
    });
    session.end();
    const seen = internal.seen[0]!;
    expect(seen.headers['content-type']).toBe('text/plain');
    expect(seen.headers.traceparent).toBe(`00-${session.id}-${session.rootSpanId}-03`);
    expect(sessionInBaggage(seen.headers.baggage)).toBe(session.id);
    expect(t.spans().map((s) => s.name)).toEqual(['session']);
  });

  it('a public host name resolved to a real server receives nothing', async () => {
    const session = startSession();
    const url = `http://api.public.example:${publicSite.port}/v1`;
    const headers = withSession(session, () => injectSessionHeaders({ accept: 'application/json' }, url));
    session.end();
    expect(headers).toEqual({ accept: 'application/json' });
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(url, { headers, lookup: loopbackLookup }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    expect(w3cHeaders(publicSite.seen[0]!)).toEqual([]);
  });

  it('accepts Headers and tuples; merges baggage; keeps an existing traceparent unless override', () => {
    const session = startSession();
    const foreign = '00-11111111111111111111111111111111-2222222222222222-01';
    const url = `${internal.url}/x`;
    const [fromHeaders, fromTuples, overridden] = withSession(session, () => [
      injectSessionHeaders(
        new Headers({ traceparent: foreign, tracestate: 'v=1', baggage: 'user=alice,agentops.session.id=' + 'c'.repeat(32) }),
        url,
      ),
      injectSessionHeaders(
        [
          ['Baggage', 'user=bob'],
          ['x-y', '1'],
        ],
        url,
      ),
      injectSessionHeaders({ TraceParent: foreign, tracestate: 'v=1' }, url, { override: true }),
    ]);
    session.end();
    expect(fromHeaders.traceparent).toBe(foreign);
    expect(fromHeaders.tracestate).toBe('v=1');
    expect(fromHeaders.baggage).toContain('user=alice');
    expect(sessionInBaggage(fromHeaders.baggage)).toBe(session.id);
    expect(fromHeaders.baggage).not.toContain('c'.repeat(32));
    expect(fromTuples['x-y']).toBe('1');
    expect(Object.keys(fromTuples)).toContain('Baggage');
    expect(fromTuples.Baggage).toContain('user=bob');
    expect(fromTuples.traceparent).toMatch(new RegExp(`^00-${session.id}-`));
    expect(overridden.TraceParent).toBeUndefined();
    expect(overridden.traceparent).toMatch(new RegExp(`^00-${session.id}-`));
    expect(overridden.tracestate).toBeUndefined();
  });

  it('bad input is logged and dropped, never thrown', () => {
    const session = startSession();
    withSession(session, () => {
      expect(injectSessionHeaders({ a: '1' }, 'not a url')).toEqual({ a: '1' });
      expect(injectSessionHeaders(42 as never, `${internal.url}/`).traceparent).toBeDefined();
      expect(injectSessionHeaders(undefined, `${internal.url}/`).baggage).toContain(session.id);
    });
    session.end();
    expect(() => injectSessionHeaders({}, `${internal.url}/`, { targets: [/unanchored/] })).toThrow(TypeError);
  });

  it('outside any session and span it adds nothing', () => {
    expect(context.with(trace.deleteSpan(context.active()), () => injectSessionHeaders({ a: '1' }, `${internal.url}/`))).toEqual({
      a: '1',
    });
  });
});
