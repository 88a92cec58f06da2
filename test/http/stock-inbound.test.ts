/**
 * Inbound trust beside stock instrumentation-http (issue 14, item 4): one SERVER span per
 * request, the stock one adopted by the hop; a public caller (from a network namespace with a
 * documentation address) and a public path behind a proxy get a fresh trace linked to the
 * caller, never the trace (the session) they named. Runs as root (ip netns); never skipped.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helperPath, startScript } from '../helpers/child.js';

const NS = 'aop14caller';
const HOST_IF = 'aop14h';
const SERVER_IP = '203.0.113.1';
const CALLER_IP = '203.0.113.2';
const SESSION = '5e55105e55105e55105e55105e551050';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}
function netnsDown(): void {
  for (const args of [
    ['link', 'del', HOST_IF],
    ['netns', 'del', NS],
  ]) {
    try {
      ip(...args);
    } catch {
      // not there
    }
  }
}
function netnsUp(): void {
  netnsDown();
  ip('netns', 'add', NS);
  ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', 'aop14c');
  ip('link', 'set', 'aop14c', 'netns', NS);
  ip('addr', 'add', `${SERVER_IP}/24`, 'dev', HOST_IF);
  ip('link', 'set', HOST_IF, 'up');
  ip('netns', 'exec', NS, 'ip', 'addr', 'add', `${CALLER_IP}/24`, 'dev', 'aop14c');
  ip('netns', 'exec', NS, 'ip', 'link', 'set', 'aop14c', 'up');
  ip('netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up');
}

/** A GET from inside the namespace (public caller) or from this process (loopback caller). */
async function get(url: string, headers: Record<string, string>, fromPublic: boolean): Promise<void> {
  if (!fromPublic) {
    await (await fetch(url, { headers })).text();
    return;
  }
  const code = `fetch(${JSON.stringify(url)},{headers:${JSON.stringify(headers)}}).then(r=>r.text()).then(()=>process.exit(0),e=>{console.error(e);process.exit(1)})`;
  execFileSync('ip', ['netns', 'exec', NS, process.execPath, '-e', code], { stdio: 'pipe', timeout: 20_000 });
}

interface ServerSpan {
  traceId: string;
  parent?: string;
  links: string[];
  sessionId?: string;
}

async function startServer(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; port: number }> {
  const child = startScript(helperPath('stock-inbound.ts'), args, { env });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /\{"listening":(\d+)\}/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('close', (code) => reject(new Error(`server exited ${String(code)}: ${err}`)));
  });
  return { child, port };
}

beforeAll(netnsUp);
afterAll(netnsDown);

describe('OTEL_PROPAGATORS with b3 turns B3 extraction on', () => {
  it('a lone b3 header from an internal address continues that trace', async () => {
    const { child, port } = await startServer(['after'], { OTEL_PROPAGATORS: 'tracecontext,baggage,b3' });
    try {
      await get(`http://127.0.0.1:${port}/internal-b3`, { b3: `${SESSION}-5555555555555555-1` }, false);
      const spans = (await (await fetch(`http://127.0.0.1:${port}/done`)).json()) as Record<string, ServerSpan[]>;
      expect(spans['/internal-b3']).toHaveLength(1);
      expect(spans['/internal-b3']![0]!.traceId).toBe(SESSION);
    } finally {
      child.kill();
    }
  });
});

describe.each(['before', 'after'])('instrumentation-http registered %s init', (order) => {
  let spans: Record<string, ServerSpan[]> = {};

  beforeAll(async () => {
    const { child, port } = await startServer([order]);
    try {
      const tp = (span: string) => ({ traceparent: `00-${SESSION}-${span}-01`, baggage: `agentops.session.id=${SESSION}` });
      await get(`http://127.0.0.1:${port}/internal`, tp('1111111111111111'), false);
      await get(`http://${SERVER_IP}:${port}/from-public`, tp('2222222222222222'), true);
      await get(`http://127.0.0.1:${port}/public/hook`, tp('3333333333333333'), false);
      await get(`http://${SERVER_IP}:${port}/from-public-b3`, { b3: `${SESSION}-4444444444444444-1` }, true);
      // Behind a proxy that strips traceparent and baggage but not B3 (B3 is opt-in now).
      await get(`http://127.0.0.1:${port}/internal-b3`, { b3: `${SESSION}-5555555555555555-1` }, false);
      spans = (await (await fetch(`http://127.0.0.1:${port}/done`)).json()) as Record<string, ServerSpan[]>;
    } finally {
      child.kill();
    }
  });

  it('a trusted internal caller: one SERVER span, in the session trace', () => {
    expect(spans['/internal']).toHaveLength(1);
    expect(spans['/internal']![0]!.traceId).toBe(SESSION);
    expect(spans['/internal']![0]!.parent).toBe('1111111111111111');
  });

  it('a public caller: one SERVER span, a fresh trace linked to the caller, no session', () => {
    const [span, ...more] = spans['/from-public'] ?? [];
    expect(more).toHaveLength(0);
    expect(span!.traceId).not.toBe(SESSION);
    expect(span!.links).toContain(SESSION);
    expect(span!.sessionId).toBeUndefined();
  });

  it('a path under publicPathPrefixes from an internal address (a proxy): the same as a public caller', () => {
    const [span, ...more] = spans['/public/hook'] ?? [];
    expect(more).toHaveLength(0);
    expect(span!.traceId).not.toBe(SESSION);
    expect(span!.links).toContain(SESSION);
  });

  it('a lone b3 header from an internal address does not pick the trace: B3 extraction is opt-in', () => {
    const [span, ...more] = spans['/internal-b3'] ?? [];
    expect(more).toHaveLength(0);
    expect(span!.traceId).not.toBe(SESSION);
  });

  it('a public caller naming the session with B3 only: a fresh trace', () => {
    const [span, ...more] = spans['/from-public-b3'] ?? [];
    expect(more).toHaveLength(0);
    expect(span!.traceId).not.toBe(SESSION);
  });
});
