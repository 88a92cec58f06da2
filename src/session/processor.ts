import { propagation, type Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR } from './attributes.js';
import { vettedSession } from './context.js';
import { sharedState } from '../base/state.js';

/** Options of `SessionSpanProcessor`. */
export interface SessionSpanProcessorOptions {
  /** Baggage keys copied onto every span of a session, as attributes of the same name. */
  baggageKeys?: string[];
}

/** Marks our processor so that `init` recognises it in a provider built by another copy of the package. */
const SESSION_PROCESSOR_MARK = Symbol.for('agentops-propagation.session-span-processor');

/**
 * Stamps `session.id` and `agentops.session.id` on every span that starts inside a session,
 * whoever starts it. "Inside" means the parent context carries a vetted session (one this library
 * accepted, started or was handed through the hop engine: a raw entry another instrumentation's
 * extract put there is inert) AND the span belongs to the session's trace: AgentOps groups
 * sessions by trace id, so a span in another trace is not in the session whatever baggage rode
 * along (a forged entry cannot stamp it).
 */
export class SessionSpanProcessor implements SpanProcessor {
  readonly [SESSION_PROCESSOR_MARK] = true;
  private readonly baggageKeys: readonly string[];

  constructor(options: SessionSpanProcessorOptions = {}) {
    this.baggageKeys = Array.isArray(options.baggageKeys) ? options.baggageKeys.filter((k) => typeof k === 'string') : [];
    sharedState().processorCount++;
  }

  onStart(span: Span, parentContext: Context): void {
    const sessionId = vettedSession(parentContext)?.sessionId;
    if (sessionId === undefined || span.spanContext().traceId !== sessionId) return;
    const existing = (span as unknown as ReadableSpan).attributes;
    // Another tool's session.id (Langfuse, OpenLLMetry) wins: we never overwrite it.
    if (existing?.[ATTR.sessionId] === undefined) span.setAttribute(ATTR.sessionId, sessionId);
    span.setAttribute(ATTR.agentopsSessionId, sessionId);
    if (this.baggageKeys.length > 0) {
      const baggage = propagation.getBaggage(parentContext);
      for (const key of this.baggageKeys) {
        const value = baggage?.getEntry(key)?.value;
        if (value !== undefined && existing?.[key] === undefined) span.setAttribute(key, value);
      }
    }
  }

  onEnd(_span: ReadableSpan): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** True for our processor, from this or another copy of the package. */
export function isSessionSpanProcessor(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SESSION_PROCESSOR_MARK] === true;
}
