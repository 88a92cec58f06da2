import { context, propagation, trace, type Context } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { SESSION_BAGGAGE_KEY, startSession, withSession } from '../../src/index.js';
import { useTracing } from '../helpers/otel.js';

const t = useTracing();

describe('SessionSpanProcessor', () => {
  it('stamps spans started by any tracer inside a session', () => {
    const session = startSession();
    withSession(session, () => trace.getTracer('@opentelemetry/instrumentation-pg').startSpan('query').end());
    session.end();
    expect(t.one('query').attributes).toMatchObject({ 'session.id': session.id, 'agentops.session.id': session.id });
  });

  it("does not overwrite another tool's session.id", () => {
    const session = startSession();
    withSession(session, () =>
      trace
        .getTracer('langfuse')
        .startSpan('gen', { attributes: { 'session.id': 'theirs' } })
        .end(),
    );
    session.end();
    expect(t.one('gen').attributes['session.id']).toBe('theirs');
    expect(t.one('gen').attributes['agentops.session.id']).toBe(session.id);
  });

  it('does not stamp a span outside the session trace, whatever the baggage says', () => {
    const forged: Context = propagation.setBaggage(
      context.active(),
      propagation.createBaggage({ [SESSION_BAGGAGE_KEY]: { value: 'ab'.repeat(16) } }),
    );
    context.with(forged, () => trace.getTracer('x').startSpan('foreign').end());
    expect(t.one('foreign').attributes['session.id']).toBeUndefined();
  });

  it('does nothing outside sessions', () => {
    trace.getTracer('x').startSpan('plain').end();
    expect(t.one('plain').attributes['session.id']).toBeUndefined();
  });
});
