/**
 * Drives the W3C conformance services the way the W3C Trace Context harness does (POST /test
 * with `{ url, arguments }` instructions, callbacks to a server that records them). The real
 * Python harness is run by hand; see docs/http.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { recordingServer, type Seen } from './helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const TRACEPARENT_FORMAT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
/** W3C baggage list member: token key, baggage-octet value, optional properties. */
const BAGGAGE_MEMBER = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+=[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*(;[^,]*)?$/;

interface Service {
  child: ChildProcess;
  url: string;
}

async function startService(name: 'express' | 'fastify'): Promise<Service> {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'examples', 'conformance', `${name}.ts`)],
    {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} service did not start:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+\/test)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${name} service exited with ${code}:\n${output}`)));
  });
  return { child, url };
}

async function stopService(service: Service | undefined): Promise<void> {
  if (service === undefined || service.child.exitCode !== null) return;
  service.child.kill('SIGTERM');
  await once(service.child, 'exit');
}

function traceparentOf(seen: Seen): RegExpExecArray {
  const value = seen.headers.traceparent;
  expect(typeof value).toBe('string');
  const match = TRACEPARENT_FORMAT.exec(value as string);
  expect(match).not.toBeNull();
  return match!;
}

describe.each(['express', 'fastify'] as const)('conformance service (%s)', (name) => {
  let service: Service;
  let harness: Awaited<ReturnType<typeof recordingServer>>;
  beforeAll(async () => {
    harness = await recordingServer();
    service = await startService(name);
  });
  afterEach(() => {
    harness.seen.length = 0;
  });
  afterAll(async () => {
    await stopService(service);
    await harness.close();
  });

  async function drive(headers: Record<string, string>, cases: unknown[]): Promise<Response> {
    return fetch(service.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(cases) });
  }

  it('continues the trace with one client span per call, all finished before it answers', async () => {
    const cases = [0, 1, 2].map((i) => ({ url: `${harness.url}/callback/${i}`, arguments: { i } }));
    const response = await drive({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, tracestate: 'foo=1,bar=2' }, cases);
    expect(response.status).toBe(200);
    // Every callback arrived before the answer did.
    expect(harness.seen.map((s) => s.path)).toEqual(['/callback/0', '/callback/1', '/callback/2']);
    expect(harness.seen.map((s) => JSON.parse(s.body))).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    const parents = harness.seen.map((seen) => {
      const [, traceId, parentId, flags] = traceparentOf(seen);
      expect(traceId).toBe(TRACE_ID);
      expect(flags).toBe('01');
      expect(seen.headers.tracestate).toBe('foo=1,bar=2');
      return parentId;
    });
    expect(new Set([...parents, PARENT_ID]).size).toBe(4);
  });

  it('keeps the Level 2 random flag', async () => {
    await drive({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-03` }, [{ url: `${harness.url}/cb`, arguments: [] }]);
    expect(traceparentOf(harness.seen[0]!)[3]).toBe('03');
  });

  it('an invalid or repeated traceparent starts one new trace for all calls, and drops tracestate', async () => {
    for (const traceparent of [
      `00-${TRACE_ID}-${PARENT_ID}-0g`,
      `00-${TRACE_ID}-${PARENT_ID}-01, 00-${TRACE_ID}-${PARENT_ID}-01`,
      `ff-${TRACE_ID}-${PARENT_ID}-01`,
    ]) {
      harness.seen.length = 0;
      const cases = [0, 1].map((i) => ({ url: `${harness.url}/cb/${i}`, arguments: [] }));
      await drive({ traceparent, tracestate: 'foo=1' }, cases);
      const ids = harness.seen.map((s) => traceparentOf(s)[1]);
      expect(ids[0]).not.toBe(TRACE_ID);
      expect(ids[1]).toBe(ids[0]);
      expect(harness.seen[0]!.headers.tracestate).toBeUndefined();
    }
  });

  it('follows nested instructions through itself (a second hop)', async () => {
    const cases = [{ url: service.url, arguments: [{ url: `${harness.url}/nested`, arguments: [] }] }];
    await drive({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` }, cases);
    expect(harness.seen).toHaveLength(1);
    expect(traceparentOf(harness.seen[0]!)[1]).toBe(TRACE_ID);
  });

  it('propagates a caller’s session and baggage as valid W3C baggage', async () => {
    const sessionId = 'a3ce929d0e0e47364bf92f3577b34da6';
    const baggage = `user=alice%20smith;p=1, agentops.session.id=${sessionId};root=${PARENT_ID};flags=01,empty=`;
    await drive({ traceparent: `00-${sessionId}-${PARENT_ID}-01`, baggage }, [{ url: `${harness.url}/bag`, arguments: [] }]);
    const out = harness.seen[0]!.headers.baggage as string;
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(8192);
    const members = out.split(',');
    for (const member of members) expect(member).toMatch(BAGGAGE_MEMBER);
    expect(members).toContain('user=alice%20smith;p=1');
    expect(members).toContain('empty=');
    // Received in 0.1.0's form, sent on in the current one: one member per field.
    expect(members.filter((m) => m.startsWith('agentops.session.'))).toEqual([
      `agentops.session.id=${sessionId}`,
      `agentops.session.root=${PARENT_ID}`,
      `agentops.session.flags=01`,
    ]);
    expect(traceparentOf(harness.seen[0]!)[1]).toBe(sessionId);
  });

  it('answers normally to a malformed body', async () => {
    const response = await fetch(service.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"not":"an array"}',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ calls: 0 });
  });
});
