/**
 * The HTTP target policy beside stock instrumentation (issue 14, item 1 and the hop allowance):
 * real instrumentation-http and -undici, registered before and after `init`, and a NodeSDK
 * application with auto-instrumentations-node, sampled and not.
 * "api.openai.com" is a loopback server reached through an agent whose lookup (and, for fetch,
 * the process's DNS) maps it to 127.0.0.1; assertions are on the raw bytes that server received.
 */
import { describe, expect, it } from 'vitest';
import { helperPath, lastJson, runScript } from '../helpers/child.js';

interface Heads {
  traceId: string;
  heads: Record<string, string>;
}

const TRACE_HEADER = /^(traceparent|tracestate|b3|x-b3-[a-z]+|sentry-trace):/im;

async function run(order: string, sampled: boolean): Promise<Heads> {
  const out = await runScript(helperPath('stock-outbound.ts'), [order, sampled ? 'on' : 'off']);
  const heads = lastJson<Heads>(out.stdout, 'heads');
  if (heads === undefined) throw new Error(`child failed (${String(out.code)}): ${out.stderr}`);
  return heads;
}

describe.each([
  ['before', true],
  ['before', false],
  ['after', true],
  ['after', false],
  ['nodesdk', true],
  ['nodesdk', false],
])('instrumentation registered %s init (nodesdk: NodeSDK with auto-instrumentations-node), sampled %s', (order, sampled) => {
  it('a denied destination gets no header carrying the session trace id and none of our baggage; internal ones keep the trace', async () => {
    const { traceId, heads } = await run(order as string, sampled as boolean);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    for (const name of ['http-public', 'http-public-array', 'http-public-set-later', 'fetch-public', 'fetch-public-copied']) {
      const head = heads[name] ?? '';
      expect(head, name).toMatch(/^(GET|POST) /);
      expect(head, name).not.toMatch(TRACE_HEADER);
      expect(head.toLowerCase(), name).not.toContain(traceId);
      expect(head, name).not.toContain('agentops.');
    }
    // Other tools' baggage members follow their own rules.
    expect(heads['fetch-public-copied']).toContain('baggage: other.vendor=x');
    for (const name of ['http-internal', 'fetch-internal']) {
      expect(heads[name], name).toMatch(new RegExp(`traceparent: 00-${traceId}-[0-9a-f]{16}-0${sampled ? '[13]' : '[02]'}`));
    }
    // This library's hops with per-call targets: what the hop allowed arrives.
    for (const name of ['hop-inject-allowed', 'hop-fetch-allowed']) {
      expect(heads[name], name).toContain(`traceparent: 00-${traceId}-`);
      expect(heads[name], name).toContain(`agentops.session.id=${traceId}`);
    }
  });
});
