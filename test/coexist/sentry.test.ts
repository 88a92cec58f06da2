/**
 * Beside Sentry (issue 17), with the published @sentry/node 10.78.0 (npm alias sentry-node10)
 * and 11.12.0, each major in its own process (test/coexist/sentry-service.ts): Sentry's tracing
 * on, a local DSN (dsn-receiver.ts) and an OTLP receiver playing AgentOps. A session crosses HTTP,
 * Kafka and BullMQ; requests go to an internal raw server and to a public host
 * ("api.openai.com" on loopback); assertions are on the bytes and envelopes received.
 * docs/coexistence.md lists each interaction; the tests that failed before the fixes of commit
 * b2762b6 say so.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastJson, runScript } from '../helpers/child.js';
import { otlpReceiver, type Receiver } from '../sdk/otlp-receiver.js';
import { dsnReceiver, type DsnReceiver } from './dsn-receiver.js';
import type { Setup } from './sentry-service.js';
import { baggageMembers, duplicateKeys, headerValues, TRACE_HEADER_LINE, ZERO_TRACE, type Member } from './wire.js';

const SERVICE = fileURLToPath(new URL('./sentry-service.ts', import.meta.url));
const SAMPLING = fileURLToPath(new URL('./sentry-sampling.ts', import.meta.url));

const SERVER = 1;
const PRODUCER = 3;
const CONSUMER = 4;

interface Hop {
  sessionId?: string;
  traceId?: string;
  headers: Record<string, string[]>;
}

interface SpanRecord {
  name: string;
  kind: number;
  traceId: string;
  scope: string;
  sessionId?: unknown;
}

interface Exchange {
  queue: string;
  producer: 'sentry' | 'ours';
  metadata: unknown;
  processed: number;
  failedReason?: string;
  workerSessionId?: string;
  workerTraceId?: string;
}

interface Report {
  setup: Setup;
  globals: { provider: string; propagator: string; contextManager: string };
  sessionId: string;
  hops: Partial<Record<'planner' | 'researcher' | 'writer' | 'critic', Hop>>;
  heads: Record<string, string>;
  exchanges: Exchange[];
  spans: SpanRecord[];
  logged: string[];
}

interface Run {
  report: Report;
  dsn: DsnReceiver;
  agentops: Receiver;
}

/** Runs the service in `setup` with its own DSN and AgentOps receivers. */
async function run(setup: Setup, env: Record<string, string> = {}): Promise<Run> {
  const dsn = await dsnReceiver();
  const agentops = await otlpReceiver({ issueToken: () => 'tok-coexist' });
  const out = await runScript(SERVICE, [setup], {
    env: {
      COEXIST_DSN: dsn.dsn,
      AGENTOPS_API_KEY: 'key-coexist',
      AGENTOPS_API_ENDPOINT: agentops.base,
      AGENTOPS_EXPORTER_ENDPOINT: agentops.url,
      // Spans only: the receiver plays AgentOps' traces endpoint.
      OTEL_METRICS_EXPORTER: 'none',
      ...env,
    },
  });
  const report = lastJson<Report>(out.stdout, 'report');
  if (report === undefined) throw new Error(`${setup} failed (${String(out.code)}): ${out.stderr}`);
  return { report, dsn, agentops };
}

/** One scenario per describe block: run before its tests, receivers closed after. */
function useRun(setup: Setup, env: Record<string, string> = {}): () => Run {
  let current: Run | undefined;
  beforeAll(async () => {
    current = await run(setup, env);
  });
  afterAll(async () => {
    await current?.dsn.close();
    await current?.agentops.close();
  });
  return () => {
    if (current === undefined) throw new Error(`${setup} did not run`);
    return current;
  };
}

/** The baggage members a hop or a raw request head carried. */
function membersOf(source: Hop | string): Member[] {
  if (typeof source === 'string') return baggageMembers(headerValues(source, 'baggage'));
  const metadata = source.headers.metadata?.[0];
  if (metadata !== undefined) {
    const parsed = JSON.parse(metadata) as { baggage?: string };
    return baggageMembers(parsed.baggage === undefined ? [] : [parsed.baggage]);
  }
  return baggageMembers(source.headers.baggage ?? []);
}

/** Every header value a hop or a raw head carried, one string. */
function textOf(source: Hop | string): string {
  return typeof source === 'string' ? source : JSON.stringify(source.headers);
}

/** The session entry as the receiving side reads it: exact values, nothing re-encoded. */
function expectSessionEntry(members: Member[], sessionId: string, where: string): void {
  const by = (key: string) => members.filter((m) => m.key === key);
  expect(
    by('agentops.session.id').map((m) => m.raw),
    where,
  ).toEqual([sessionId]);
  expect(by('agentops.session.root').map((m) => m.raw)[0], where).toMatch(/^[0-9a-f]{16}$/);
  expect(by('agentops.session.flags').map((m) => m.raw)[0], where).toMatch(/^[0-9a-f]{2}$/);
}

/** A span by kind and name; OTLP numbers kinds from 1 (internal), the SDK from 0. */
const key = (s: { name: string; kind: number }) => `${s.kind} ${s.name}`;
const otlpKey = (s: { name: string; kind: number }) => `${s.kind - 1} ${s.name}`;

const INTERNAL_HEADS = ['sessionFetch-internal', 'inject-internal', 'fetch-internal', 'http-internal'];
const PUBLIC_HEADS = ['sessionFetch-public', 'inject-public', 'fetch-public', 'http-public'];

/** What each setup is expected to show (docs/coexistence.md, "What each tool sees"). */
interface Expected {
  setup: Setup;
  provider: string;
  contextManager: string;
  /** Sentry's errors carry the session's trace id (Sentry runs on our trace) or Sentry's own. */
  errorTrace: 'session' | 'own' | 'mixed';
  /** Sentry 10 sends transactions; Sentry 11 streams spans; `none`: Sentry records no spans. */
  sentrySpans: 'transactions' | 'streamed' | 'none';
  /** Plain fetch / node:http to internal services carry the W3C traceparent (Sentry 10's propagateTraceparent). */
  plainTraceparent: boolean;
}

const SETUPS: Expected[] = [
  {
    setup: '10-hook',
    provider: 'BasicTracerProvider',
    contextManager: 'SentryAsyncLocalStorageContextManager',
    errorTrace: 'session',
    sentrySpans: 'transactions',
    plainTraceparent: true,
  },
  {
    setup: '10-custom',
    provider: 'NodeTracerProvider',
    contextManager: 'SentryAsyncLocalStorageContextManager',
    errorTrace: 'session',
    sentrySpans: 'transactions',
    plainTraceparent: true,
  },
  {
    setup: '10-init-first',
    provider: 'NodeTracerProvider',
    contextManager: 'AsyncLocalStorageContextManager',
    errorTrace: 'session',
    sentrySpans: 'none',
    plainTraceparent: false,
  },
  {
    setup: '11-init-first',
    provider: 'NodeTracerProvider',
    contextManager: 'AsyncLocalStorageContextManager',
    errorTrace: 'own',
    sentrySpans: 'streamed',
    plainTraceparent: false,
  },
  {
    setup: '11-sentry-first',
    provider: 'NodeTracerProvider',
    contextManager: 'AsyncLocalStorageContextManager',
    errorTrace: 'own',
    sentrySpans: 'streamed',
    plainTraceparent: false,
  },
  {
    setup: '11-linked',
    provider: 'NodeTracerProvider',
    contextManager: 'AsyncLocalStorageContextManager',
    errorTrace: 'mixed',
    sentrySpans: 'streamed',
    plainTraceparent: false,
  },
];

describe.each(SETUPS)('beside Sentry, setup $setup (docs/coexistence.md)', (expected) => {
  // Sentry 11 ships a BullMQ telemetry of its own: its jobs and ours are exchanged in that run.
  const get = useRun(expected.setup, expected.setup === '11-init-first' ? { COEXIST_BULLMQ_METADATA: '1' } : {});

  it('owns the OpenTelemetry globals as documented: the propagator is always ours', () => {
    const { globals } = get().report;
    expect(globals).toEqual({ provider: expected.provider, propagator: 'GlobalGuarded', contextManager: expected.contextManager });
  });

  it('the session crosses HTTP and BullMQ, and comes back over HTTP', () => {
    const { sessionId, hops, spans } = get().report;
    for (const name of ['planner', 'writer', 'critic'] as const) {
      expect({ hop: name, sessionId: hops[name]?.sessionId, traceId: hops[name]?.traceId }).toEqual({
        hop: name,
        sessionId,
        traceId: sessionId,
      });
    }
    const worker = spans.filter(
      (s) => s.scope === 'agentops-propagation' && s.kind === CONSUMER && s.name.startsWith('process coexist-queue-'),
    );
    expect(worker.map((s) => [s.traceId, s.sessionId])).toEqual([[sessionId, sessionId]]);
  });

  // Failed before b2762b6: Sentry's Kafka integration assigns
  // message.headers.baggage, which replaced the session entry; the consumer kept the trace only.
  it("the session crosses Kafka beside Sentry's Kafka integration", () => {
    const { sessionId, hops, spans } = get().report;
    const researcher = hops.researcher!;
    expect({ sessionId: researcher.sessionId, traceId: researcher.traceId }).toEqual({ sessionId, traceId: sessionId });
    expectSessionEntry(membersOf(researcher), sessionId, 'Kafka message headers');
    const consumer = spans.filter(
      (s) => s.scope === 'agentops-propagation' && s.kind === CONSUMER && s.name.startsWith('process coexist-topic-'),
    );
    expect(consumer.map((s) => [s.traceId, s.sessionId])).toEqual([[sessionId, sessionId]]);
  });

  it("your exporter and AgentOps' receive every span of the session, the same ones", () => {
    const { report, agentops } = get();
    const { sessionId, spans } = report;
    const yours = spans.filter((s) => s.traceId === sessionId);
    const ours = yours.filter((s) => s.scope === 'agentops-propagation');
    const kinds = (pred: (s: SpanRecord) => boolean) => ours.filter(pred).length;
    expect(kinds((s) => s.name === 'coexist.session')).toBe(1);
    expect(kinds((s) => s.kind === PRODUCER && s.name.startsWith('send coexist-topic-'))).toBe(1);
    expect(kinds((s) => s.kind === CONSUMER && s.name.startsWith('process coexist-topic-'))).toBe(1);
    expect(kinds((s) => s.kind === PRODUCER && s.name.startsWith('add coexist-queue-'))).toBe(1);
    expect(kinds((s) => s.kind === CONSUMER && s.name.startsWith('process coexist-queue-'))).toBe(1);
    // One SERVER span per request to /plan and /critic, ours or Sentry's adopted one.
    expect(yours.filter((s) => s.kind === SERVER).length).toBe(2);
    const received = agentops.spans().filter((s) => s.traceId === sessionId);
    expect(received.map(otlpKey).sort()).toEqual(yours.map(key).sort());
    expect(agentops.requests.every((r) => r.headers.authorization === 'Bearer tok-coexist')).toBe(true);
  });

  it('Sentry still records its errors and its spans', () => {
    const { report, dsn } = get();
    const { sessionId } = report;
    const events = dsn.events();
    const messages = events.map((e) => e.exception?.values?.[0]?.value).sort();
    expect(messages).toEqual(['planner failed on purpose', 'writer failed on purpose']);
    const traces = events.map((e) => e.contexts?.trace?.trace_id);
    for (const t of traces) expect(t).toMatch(/^[0-9a-f]{32}$/);
    if (expected.errorTrace === 'session') expect(traces).toEqual([sessionId, sessionId]);
    if (expected.errorTrace === 'own') expect(traces.filter((t) => t === sessionId)).toEqual([]);
    if (expected.errorTrace === 'mixed') {
      // openTelemetryIntegration: outside a Sentry span (the BullMQ worker) Sentry reads the
      // active OpenTelemetry span; inside one (Sentry's HTTP server span) Sentry's own trace wins.
      const byMessage = Object.fromEntries(events.map((e) => [e.exception?.values?.[0]?.value, e.contexts?.trace?.trace_id]));
      expect(byMessage['writer failed on purpose']).toBe(sessionId);
      expect(byMessage['planner failed on purpose']).not.toBe(sessionId);
    }
    const transactions = dsn.transactions();
    const streamed = dsn.streamedSpans();
    if (expected.sentrySpans === 'transactions') {
      const onSession = transactions.filter((t) => t.contexts?.trace?.trace_id === sessionId).map((t) => t.transaction);
      expect(onSession).toContain('coexist.session');
      expect(onSession).toContain('POST /plan');
      expect(streamed).toEqual([]);
    }
    if (expected.sentrySpans === 'none')
      expect({ transactions: transactions.length, streamed: streamed.length }).toEqual({ transactions: 0, streamed: 0 });
    if (expected.sentrySpans === 'streamed') {
      expect(transactions).toEqual([]);
      const names = streamed.map((s) => s.name);
      expect(names).toContain('POST /plan');
      // Sentry's Kafka producer span, beside ours of the same name.
      expect(names).toContain(report.spans.find((s) => s.name.startsWith('send coexist-topic-'))!.name);
      // Sentry 11's spans are its own: none is in the session's trace.
      expect(streamed.filter((s) => s.trace_id === sessionId)).toEqual([]);
    }
  });

  it('to allowed destinations no baggage member is duplicated, clobbered or re-encoded', () => {
    const { sessionId, hops, heads } = get().report;
    const sources: [string, Hop | string][] = [
      ['planner', hops.planner!],
      ['writer (job metadata)', hops.writer!],
      ['critic', hops.critic!],
      ...INTERNAL_HEADS.map((name): [string, string] => [name, heads[name]!]),
    ];
    for (const [where, source] of sources) {
      const members = membersOf(source);
      expect(duplicateKeys(members), where).toEqual([]);
      if (members.some((m) => m.key.startsWith('agentops.'))) expectSessionEntry(members, sessionId, where);
    }
    // This library's hops carry the session entry; plain requests never do (the permit rule).
    for (const [where, source] of sources.slice(0, 5)) expectSessionEntry(membersOf(source), sessionId, where);
    for (const name of ['fetch-internal', 'http-internal'])
      expect(
        membersOf(heads[name]!).filter((m) => m.key.startsWith('agentops.')),
        name,
      ).toEqual([]);
  });

  // Failed before b2762b6 for Sentry 10's fetch integration: under
  // sessionFetch (tracing suppressed) it wrote `sentry-trace: 000…-000…`, which a Sentry
  // receiver continues as a trace.
  it('no request or hop carries a header naming the all-zero trace', () => {
    const { hops, heads } = get().report;
    for (const [where, source] of [...Object.entries(hops), ...INTERNAL_HEADS.map((n) => [n, heads[n]!] as const)])
      expect(textOf(source as Hop | string), where).not.toMatch(ZERO_TRACE);
  });

  if (expected.plainTraceparent)
    it("plain fetch and node:http carry the session's trace to internal services (Sentry 10 with propagateTraceparent)", () => {
      const { sessionId, heads } = get().report;
      for (const name of ['fetch-internal', 'http-internal']) {
        expect(headerValues(heads[name]!, 'traceparent'), name).toEqual([
          expect.stringMatching(new RegExp(`^00-${sessionId}-[0-9a-f]{16}-0[13]$`)),
        ]);
        expect(headerValues(heads[name]!, 'sentry-trace'), name).toEqual([expect.stringMatching(new RegExp(`^${sessionId}-`))]);
      }
    });

  // Failed before b2762b6 where Sentry was initialised first: its
  // ClientRequest._storeHeader wrapper added sentry-trace (and traceparent) after our guard ran.
  it('a denied destination gets no trace header, whoever wrote it', () => {
    const { heads } = get().report;
    for (const name of PUBLIC_HEADS) {
      expect(heads[name], name).toMatch(/^GET \/v1\/chat /);
      expect(heads[name], name).not.toMatch(TRACE_HEADER_LINE);
    }
  });

  // Failed before b2762b6 for Sentry 10: Sentry's own baggage member
  // `sentry-trace_id` is the session id when Sentry runs on our trace.
  it('a denied destination gets none of our members and no value naming the session', () => {
    const { sessionId, heads } = get().report;
    for (const name of PUBLIC_HEADS) {
      expect(heads[name]!.toLowerCase(), name).not.toContain(sessionId);
      expect(heads[name], name).not.toContain('agentops.');
    }
  });

  it("Sentry's own members follow Sentry's targets (all URLs by default)", () => {
    const { heads } = get().report;
    // Sentry 11 linked to OpenTelemetry writes nothing on node:http outside a span of its own.
    for (const name of expected.setup === '11-linked' ? ['fetch-public'] : ['fetch-public', 'http-public']) {
      const keys = membersOf(heads[name]!).map((m) => m.key);
      expect(keys, name).toContain('sentry-public_key');
      expect(keys, name).toContain('sentry-environment');
    }
  });

  // Failed before b2762b6: init's shutdown deleted ClientRequest's own
  // _storeHeader, which was Sentry's wrapper (Sentry after init) or which had replaced it.
  it("after init's shutdown, Sentry still writes its header on node:http", () => {
    const { heads } = get().report;
    expect(headerValues(heads['http-internal-after-shutdown']!, 'sentry-trace')).toEqual([
      expect.stringMatching(/^[0-9a-f]{32}-[0-9a-f]{16}/),
    ]);
  });

  if (expected.setup === '11-init-first')
    it("Sentry's BullMQ metadata and ours do not break each other's jobs", () => {
      const { report, dsn } = get();
      const { sessionId, exchanges } = report;
      const fromSentry = exchanges.find((e) => e.producer === 'sentry')!;
      const fromUs = exchanges.find((e) => e.producer === 'ours')!;
      // Sentry writes a bare sentry-trace string; our worker reads no context from it, runs the
      // job once, in a trace of its own and no session.
      expect(fromSentry.metadata).toMatch(/^[0-9a-f]{32}-[0-9a-f]{16}(-[01])?$/);
      expect(fromSentry.processed).toBe(1);
      expect(fromSentry.workerSessionId).toBeUndefined();
      expect(fromSentry.failedReason).toBeUndefined();
      expect(fromSentry.workerTraceId).toMatch(/^[0-9a-f]{32}$/);
      expect(fromSentry.workerTraceId).not.toBe(sessionId);
      // ... and does not warn about another tool's metadata (debug only).
      expect(report.logged.filter((l) => l.startsWith('warn:') && l.includes('job metadata'))).toEqual([]);
      // Ours is JSON with the session; Sentry's worker cannot read it: the job runs once, Sentry's
      // process span starts a trace of its own with no link to the producer.
      const metadata = JSON.parse(fromUs.metadata as string) as { traceparent: string; baggage: string };
      expect(metadata.traceparent).toMatch(new RegExp(`^00-${sessionId}-`));
      expectSessionEntry(baggageMembers([metadata.baggage]), sessionId, 'our job metadata');
      expect(fromUs.processed).toBe(1);
      expect(fromUs.workerSessionId).toBeUndefined();
      expect(fromUs.failedReason).toBeUndefined();
      const process = dsn.streamedSpans().filter((s) => s.name === `process ${fromUs.queue}`);
      expect(process.length).toBe(1);
      expect(process[0]!.links ?? []).toEqual([]);
    });
});

describe('beside a provider Sentry registers (Sentry.init first)', () => {
  describe('init({ exporters }) after a plain Sentry.init()', () => {
    const get = useRun('10-naive', { COEXIST_CHAIN: '0' });

    it("joins Sentry's provider: your exporters and AgentOps get nothing; Sentry gets the session's transactions", () => {
      const { report, agentops, dsn } = get();
      expect(report.globals.provider).toBe('SentryTracerProvider');
      expect(report.spans).toEqual([]);
      expect(agentops.spans()).toEqual([]);
      expect(
        dsn
          .transactions()
          .filter((t) => t.contexts?.trace?.trace_id === report.sessionId)
          .map((t) => t.transaction),
      ).toContain('coexist.session');
    });

    // Failed before b2762b6: init said nothing about the exporters it could not attach.
    it("init warns that its exporters get no spans, naming Sentry's hook", () => {
      const warned = get().report.logged.filter((l) => l.startsWith('warn:') && l.includes('InMemorySpanExporter'));
      expect(warned).toEqual([expect.stringContaining('openTelemetrySpanProcessors')]);
    });
  });

  describe('Sentry 11 with enableOpenTelemetrySetup: true, then init({ exporters })', () => {
    const get = useRun('11-otel-setup', { COEXIST_CHAIN: '0' });

    it("joins Sentry's provider as with Sentry 10: your exporters and AgentOps get nothing (Sentry 11 has no processor hook)", () => {
      const { report, agentops } = get();
      expect(report.globals.provider).toBe('SentryTracerProvider');
      expect(report.spans).toEqual([]);
      expect(agentops.spans()).toEqual([]);
    });

    // Failed before b2762b6.
    it('init warns that its exporters get no spans', () => {
      const warned = get().report.logged.filter((l) => l.startsWith('warn:') && l.includes('InMemorySpanExporter'));
      expect(warned).toEqual([expect.stringContaining('enableOpenTelemetrySetup')]);
    });
  });

  // Failed before b2762b6: agentOpsSpanProcessors had no `exporters`.
  describe('Sentry.init({ openTelemetrySpanProcessors: agentOpsSpanProcessors({ exporters }) })', () => {
    const get = useRun('10-hook-exporters', { COEXIST_CHAIN: '0' });

    it('your exporter and AgentOps get every span of the session', () => {
      const { report, agentops } = get();
      const yours = report.spans.filter((s) => s.traceId === report.sessionId);
      expect(yours.map((s) => s.name)).toContain('coexist.session');
      expect(
        agentops
          .spans()
          .filter((s) => s.traceId === report.sessionId)
          .map(otlpKey)
          .sort(),
      ).toEqual(yours.map(key).sort());
    });
  });
});

describe('Sentry configured to keep its headers and spans to itself (the documented workarounds)', () => {
  describe("Sentry 10 with the hook: Sentry's targets internal, its Kafka integration left out, its fetch spans off", () => {
    const get = useRun('10-hook', { COEXIST_TARGETS: 'internal', COEXIST_SENTRY_KAFKA: 'off', COEXIST_SENTRY_FETCH_SPANS: 'off' });

    it('the session crosses HTTP, Kafka and BullMQ', () => {
      const { sessionId, hops } = get().report;
      for (const name of ['planner', 'researcher', 'writer', 'critic'] as const)
        expect({ hop: name, sessionId: hops[name]?.sessionId, traceId: hops[name]?.traceId }).toEqual({
          hop: name,
          sessionId,
          traceId: sessionId,
        });
    });

    it('no header names the all-zero trace; a denied destination gets nothing of Sentry, the session or ours', () => {
      const { sessionId, hops, heads } = get().report;
      for (const [where, source] of [...Object.entries(hops), ...INTERNAL_HEADS.map((n) => [n, heads[n]!] as const)])
        expect(textOf(source as Hop | string), where).not.toMatch(ZERO_TRACE);
      for (const name of PUBLIC_HEADS) {
        expect(heads[name], name).not.toMatch(TRACE_HEADER_LINE);
        expect(heads[name]!.toLowerCase(), name).not.toContain(sessionId);
        expect(heads[name], name).not.toMatch(/agentops\.|sentry-/);
      }
      // Internal services still get Sentry's headers.
      expect(headerValues(heads['http-internal']!, 'sentry-trace')).toEqual([expect.stringMatching(new RegExp(`^${sessionId}-`))]);
    });
  });

  describe('Sentry 11, its Kafka integration left out', () => {
    const get = useRun('11-init-first', { COEXIST_SENTRY_KAFKA: 'off' });

    it('the session crosses Kafka', () => {
      const { sessionId, hops } = get().report;
      expect({ sessionId: hops.researcher?.sessionId, traceId: hops.researcher?.traceId }).toEqual({ sessionId, traceId: sessionId });
    });
  });
});

interface Sampling {
  exported: Record<string, string[]>;
  asked: { name: string; parentSampled?: boolean }[];
}

async function sampling(setup: '10-hook' | '10-custom'): Promise<Sampling> {
  const dsn = await dsnReceiver();
  try {
    const out = await runScript(SAMPLING, [setup, '6'], { env: { COEXIST_DSN: dsn.dsn, OTEL_METRICS_EXPORTER: 'none' } });
    const result = lastJson<Sampling>(out.stdout, 'sampling');
    if (result === undefined) throw new Error(`sampling ${setup} failed (${String(out.code)}): ${out.stderr}`);
    return result;
  } finally {
    await dsn.close();
  }
}

describe("sampling beside Sentry 10: Sentry's sampler decides", () => {
  it("with the hook, Sentry's sampler decides again after every inbound hop: an unsampled session's downstream work is recorded without it", async () => {
    const { exported, asked } = await sampling('10-hook');
    for (const name of ['keep-0', 'keep-2', 'keep-4'])
      expect(exported[name], name).toEqual(expect.arrayContaining([`${name}.session`, 'POST', 'POST /work', 'worker.agent']));
    // The dropped sessions' server side: recorded, its root span and client side missing.
    for (const name of ['drop-1', 'drop-3', 'drop-5']) {
      expect(exported[name], name).toEqual(expect.arrayContaining(['POST /work', 'worker.agent']));
      expect(exported[name], name).not.toContain(`${name}.session`);
      expect(exported[name], name).not.toContain('POST');
    }
    // Why: the remote parent's flags are 03 (W3C Level 2 random bit); Sentry reads "sampled"
    // only from flags exactly 01 or its own tracestate, so it reports no parent decision.
    const serverSide = asked.filter((a) => !a.name.endsWith('.session'));
    expect(serverSide.length).toBe(6);
    for (const a of serverSide) expect(a.parentSampled).toBeUndefined();
  });

  it('with your provider and ParentBasedSampler({ root: SentrySampler }), each session is exported whole or not at all', async () => {
    const { exported, asked } = await sampling('10-custom');
    for (const name of ['keep-0', 'keep-2', 'keep-4'])
      expect(exported[name], name).toEqual(expect.arrayContaining([`${name}.session`, 'POST', 'POST /work', 'worker.agent']));
    for (const name of ['drop-1', 'drop-3', 'drop-5']) expect(exported[name], name).toEqual([]);
    expect(asked.map((a) => a.name)).toEqual(['keep-0', 'drop-1', 'keep-2', 'drop-3', 'keep-4', 'drop-5'].map((n) => `${n}.session`));
  });
});
