/**
 * The sessions a producing worker sends from (Kafka, BullMQ): many at once, as an agent fleet
 * would, so the consumer sees a different trace and session entry from one message run to the
 * next. Ours: `startSession` / `withSession`. The SDK rows (hand, contrib): a root span each, with
 * the same `agentops.session.id` baggage entry in its context, so that they carry (and their
 * consumers extract) headers of the same size. Bare: no context at all.
 */
import { context, propagation, ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';

/** Runs work inside the i-th session. */
export interface AgentSessions {
  run<T>(i: number, fn: () => Promise<T>): Promise<T>;
  end(): void;
}

/** Who makes the sessions: nobody (bare), the library (every `ours` row), or the SDK (the others). */
export type SessionMaker = 'none' | 'library' | 'sdk';

/** The session maker of a worker configuration: every `ours*` row runs in the library's sessions. */
export function sessionMakerOf(config: string): SessionMaker {
  if (config === 'bare') return 'none';
  return config.startsWith('ours') ? 'library' : 'sdk';
}

export async function agentSessions(maker: SessionMaker, n: number): Promise<AgentSessions> {
  if (maker === 'none') return { run: (_i, fn) => fn(), end: () => undefined };
  if (maker === 'library') {
    const { startSession, withSession } = await import('agentops-propagation');
    const sessions = Array.from({ length: n }, (_, i) => startSession({ name: `bench agent ${i}` }));
    return {
      run: (i, fn) => withSession(sessions[i % n]!, fn),
      end: () => sessions.forEach((s) => s.end()),
    };
  }
  const tracer = trace.getTracer('bench');
  const roots = Array.from({ length: n }, () => tracer.startSpan('session'));
  const contexts: Context[] = roots.map((span) => {
    const { traceId, spanId } = span.spanContext();
    const baggage = propagation.createBaggage({
      'agentops.session.id': { value: traceId },
      'agentops.session.root': { value: spanId },
      'agentops.session.flags': { value: '03' },
    });
    return propagation.setBaggage(trace.setSpan(ROOT_CONTEXT, span), baggage);
  });
  return {
    run: (i, fn) => context.with(contexts[i % n]!, fn),
    end: () => roots.forEach((span) => span.end()),
  };
}
