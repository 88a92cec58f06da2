// A registered SDK that checks every span as it ends and keeps none: for runs of a million hops,
// where the in-memory exporter of test/helpers/otel.ts would hold every span.

import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { SessionSpanProcessor } from '../../src/session/processor.js';
import { disableGlobalTracing, registerGlobalTracing } from './otel.js';

const SESSION_ID = /^(?!0{32})[0-9a-f]{32}$/;
const MAX_PROBLEMS = 20;

/** What the audit saw. */
interface SpanAudit {
  /** Spans started. */
  started: number;
  /** Spans ended. */
  ended: number;
  /** Ended spans stamped with a session id. */
  inSession: number;
  /** The first problems found (a span outside the session it claims, a malformed session id). */
  problems: string[];
}

/** The registered audit harness. */
export interface AuditedTracing {
  audit: SpanAudit;
  /** Spans started and not ended yet. */
  open(): number;
  reset(): void;
  shutdown(): Promise<void>;
}

class AuditProcessor implements SpanProcessor {
  constructor(private readonly audit: SpanAudit) {}

  onStart(_span: Span): void {
    this.audit.started++;
  }

  onEnd(span: ReadableSpan): void {
    const audit = this.audit;
    audit.ended++;
    const claimed = span.attributes['session.id'];
    const agentops = span.attributes['agentops.session.id'];
    if (claimed === undefined && agentops === undefined) return;
    audit.inSession++;
    const traceId = span.spanContext().traceId;
    if (audit.problems.length >= MAX_PROBLEMS) return;
    if (typeof claimed !== 'string' || !SESSION_ID.test(claimed)) audit.problems.push(`${span.name}: session.id ${String(claimed)}`);
    else if (claimed !== traceId) audit.problems.push(`${span.name}: claims session ${claimed} but is in trace ${traceId}`);
    if (agentops !== claimed)
      audit.problems.push(`${span.name}: agentops.session.id ${String(agentops)} differs from session.id ${String(claimed)}`);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Registers a provider with the session processor and the audit, the library's propagator and AsyncLocalStorage. */
export function setupAuditedTracing(): AuditedTracing {
  const audit: SpanAudit = { started: 0, ended: 0, inSession: 0, problems: [] };
  const provider = new NodeTracerProvider({ spanProcessors: [new SessionSpanProcessor(), new AuditProcessor(audit)] });
  registerGlobalTracing(provider);
  return {
    audit,
    open: () => audit.started - audit.ended,
    reset() {
      audit.started = 0;
      audit.ended = 0;
      audit.inSession = 0;
      audit.problems.length = 0;
    },
    async shutdown() {
      await provider.shutdown();
      disableGlobalTracing();
    },
  };
}
