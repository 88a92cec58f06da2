/**
 * Beside Langfuse (issue 17), with the published @langfuse/tracing and @langfuse/otel 5.11.1:
 * `propagateAttributes({ asBaggage: true })` puts `langfuse_session_id`, `langfuse_user_id`,
 * `langfuse_tags` and `langfuse_metadata_*` into the baggage (test/coexist/langfuse-service.ts,
 * its own process). Checked on the bytes received: Langfuse's members go where the target
 * policy allows, never to a denied destination, and are never dropped by this library's limits
 * before W3C's own (64 members, 8192 bytes); and what each tool writes on the spans.
 */
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { lastJson, runScript } from '../helpers/child.js';
import { baggageMembers, headerValues, TRACE_HEADER_LINE, type Member } from './wire.js';

const SERVICE = fileURLToPath(new URL('./langfuse-service.ts', import.meta.url));

interface Received {
  sessionId?: string;
  entries: Record<string, string>;
  header: string[];
}

interface Report {
  mode: string;
  sessionId: string;
  hops: { http?: Received; bullmq?: Received };
  heads: Record<string, string>;
  rootAttributes: Record<string, unknown>;
  spans: { name: string; traceId: string; sessionId?: unknown; agentopsSessionId?: unknown; langfuseUserId?: unknown }[];
  langfuseSpans: number;
}

function useRun(mode: string): () => Report {
  let report: Report | undefined;
  beforeAll(async () => {
    const out = await runScript(SERVICE, [mode], { env: { OTEL_METRICS_EXPORTER: 'none' } });
    report = lastJson<Report>(out.stdout, 'langfuse');
    if (report === undefined) throw new Error(`langfuse ${mode} failed (${String(out.code)}): ${out.stderr}`);
  });
  return () => {
    if (report === undefined) throw new Error(`langfuse ${mode} did not run`);
    return report;
  };
}

/** Langfuse's members as `propagateAttributes` put them into the baggage, decoded. */
const LANGFUSE_MEMBERS: Record<string, string> = {
  langfuse_user_id: 'user 1@example.com',
  langfuse_session_id: 'chat-42',
  langfuse_version: 'v1.2',
  langfuse_trace_name: 'support',
  langfuse_tags: 'beta,a,b',
  langfuse_metadata_tenant: 'acme',
  langfuse_metadata_note: 'café 100% ; "quoted"',
};

function decoded(members: Member[], prefix: string): Record<string, string> {
  return Object.fromEntries(members.filter((m) => m.key.startsWith(prefix)).map((m) => [m.key, m.value]));
}

function sessionMembers(sessionId: string, entries: Record<string, string>): void {
  expect(entries['agentops.session.id']).toBe(sessionId);
  expect(entries['agentops.session.root']).toMatch(/^[0-9a-f]{16}$/);
  expect(entries['agentops.session.flags']).toMatch(/^[0-9a-f]{2}$/);
}

describe('beside Langfuse: propagateAttributes({ asBaggage: true }) inside a session', () => {
  const get = useRun('attributes');

  it("Langfuse's members cross HTTP and BullMQ with the session, every value exact", () => {
    const { sessionId, hops } = get();
    for (const [where, hop] of Object.entries(hops)) {
      expect(hop.sessionId, where).toBe(sessionId);
      sessionMembers(sessionId, hop.entries);
      expect(
        decoded(
          Object.entries(hop.entries).map(([key, value]) => ({ key, raw: value, value })),
          'langfuse_',
        ),
        where,
      ).toEqual(LANGFUSE_MEMBERS);
    }
    // On the wire: percent-encoded once, by the W3C rules.
    expect(hops.http!.header).toEqual([expect.stringContaining('langfuse_tags=beta%2Ca%2Cb,')]);
    expect(hops.http!.header[0]).toContain('langfuse_metadata_note=caf%C3%A9%20100%25%20%3B%20%22quoted%22');
  });

  it('a metadata key that is not a W3C token is not written (the spec: keys are tokens); Langfuse keeps it on its own spans', () => {
    const { hops, heads, rootAttributes } = get();
    for (const source of [...Object.values(hops).flatMap((h) => h.header), ...Object.values(heads)]) expect(source).not.toContain('run id');
    expect(rootAttributes['langfuse.trace.metadata.run id']).toBe('not a token key');
  });

  it("to allowed destinations: plain requests carry the trace and Langfuse's members, not the session entry; our hops carry both", () => {
    const { sessionId, heads } = get();
    for (const name of ['sessionFetch-internal', 'fetch-internal', 'http-internal']) {
      const head = heads[name]!;
      expect(headerValues(head, 'traceparent'), name).toEqual([expect.stringMatching(new RegExp(`^00-${sessionId}-`))]);
      const members = baggageMembers(headerValues(head, 'baggage'));
      expect(decoded(members, 'langfuse_'), name).toEqual(LANGFUSE_MEMBERS);
      const ours = decoded(members, 'agentops.');
      if (name === 'sessionFetch-internal') sessionMembers(sessionId, ours);
      else expect(ours, name).toEqual({});
    }
  });

  it("a denied destination gets nothing of Langfuse's, nothing of ours and no trace header", () => {
    const { sessionId, heads } = get();
    for (const name of ['sessionFetch-public', 'fetch-public', 'http-public']) {
      const head = heads[name]!;
      expect(head, name).toMatch(/^GET \/v1\/chat /);
      expect(head, name).not.toMatch(TRACE_HEADER_LINE);
      expect(head, name).not.toMatch(/langfuse_|agentops\./);
      expect(head.toLowerCase(), name).not.toContain(sessionId);
    }
  });

  // Failed before b2762b6: the inbound hop wrote our session.id over
  // Langfuse's on the stock SERVER span it adopted.
  it("every span of the session carries agentops.session.id; Langfuse's session.id wins where Langfuse propagates it", () => {
    const { sessionId, spans, langfuseSpans } = get();
    const inSession = spans.filter((s) => s.traceId === sessionId);
    expect(inSession.length).toBeGreaterThanOrEqual(10);
    for (const s of inSession) {
      expect({ span: s.name, agentops: s.agentopsSessionId, session: s.sessionId, user: s.langfuseUserId }).toEqual({
        span: s.name,
        agentops: sessionId,
        session: 'chat-42',
        user: 'user 1@example.com',
      });
    }
    expect(langfuseSpans).toBe(spans.length);
  });
});

describe("Langfuse's sessionId set to the AgentOps session (getSessionId())", () => {
  const get = useRun('shared-session');

  it('both tools write the same session.id on every span of the session', () => {
    const { sessionId, spans, hops } = get();
    const inSession = spans.filter((s) => s.traceId === sessionId);
    expect(inSession.length).toBeGreaterThanOrEqual(10);
    for (const s of inSession)
      expect({ span: s.name, session: s.sessionId, agentops: s.agentopsSessionId }).toEqual({
        span: s.name,
        session: sessionId,
        agentops: sessionId,
      });
    expect(hops.http!.entries.langfuse_session_id).toBe(sessionId);
  });
});

describe("Langfuse's members at W3C's limits (64 members, 8192 bytes) and one beyond", () => {
  const atLimit = useRun('at-limit');
  const overMembers = useRun('over-members');
  const overBytes = useRun('over-bytes');
  const sent = (n: number) => Array.from({ length: n }, (_, i) => `langfuse_metadata_m${String(i).padStart(2, '0')}`);

  it('at the limits, every member arrives, the header exactly 8192 bytes', () => {
    const { sessionId, hops } = atLimit();
    const http = hops.http!;
    expect(http.header.map((h) => Buffer.byteLength(h))).toEqual([8192]);
    expect(baggageMembers(http.header).length).toBe(64);
    sessionMembers(sessionId, http.entries);
    expect(
      Object.keys(http.entries)
        .filter((k) => k.startsWith('langfuse_'))
        .sort(),
    ).toEqual(sent(61));
    for (const [key, value] of Object.entries(http.entries)) if (key.startsWith('langfuse_')) expect(value, key).toMatch(/^x{109,111}$/);
  });

  it('one member beyond: 64 arrive, the one over is dropped whole, the session entry kept', () => {
    const { sessionId, hops } = overMembers();
    const http = hops.http!;
    expect(baggageMembers(http.header).length).toBe(64);
    sessionMembers(sessionId, http.entries);
    expect(
      Object.keys(http.entries)
        .filter((k) => k.startsWith('langfuse_'))
        .sort(),
    ).toEqual(sent(61));
    for (const [key, value] of Object.entries(http.entries)) if (key.startsWith('langfuse_')) expect(value, key).toBe('x'.repeat(100));
  });

  it('one byte beyond: one member is dropped whole, the rest arrive intact within 8192 bytes, the session entry kept', () => {
    const { sessionId, hops } = overBytes();
    const http = hops.http!;
    expect(Buffer.byteLength(http.header[0]!)).toBeLessThanOrEqual(8192);
    expect(baggageMembers(http.header).length).toBe(63);
    sessionMembers(sessionId, http.entries);
    const langfuse = Object.keys(http.entries).filter((k) => k.startsWith('langfuse_'));
    expect(langfuse.length).toBe(60);
    for (const key of langfuse) expect(sent(61)).toContain(key);
    for (const key of langfuse) expect(http.entries[key], key).toMatch(/^x{109,111}$/);
  });
});
