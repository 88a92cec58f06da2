import { context, propagation, trace, SpanKind } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import {
  getSessionId,
  isValidSessionId,
  recordLlmUsage,
  SESSION_BAGGAGE_KEY,
  startSession,
  withAgent,
  withLlmCall,
  withSession,
  withTool,
} from '../../src/index.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';

const t = useTracing();

describe('startSession', () => {
  it('starts a root span whose trace id is the session id, not activated', () => {
    const session = startSession({ name: 'research', tags: ['a', 'b'] });
    expect(isValidSessionId(session.id)).toBe(true);
    expect(session.span.spanContext().traceId).toBe(session.id);
    expect(trace.getActiveSpan()).toBeUndefined();
    session.end();
    const root = t.one('research.session');
    expect(root.parentSpanContext).toBeUndefined();
    expect(root.attributes['agentops.span.kind']).toBe('session');
    expect(root.attributes['agentops.entity.name']).toBe('research');
    expect(root.attributes['agentops.tags']).toEqual(['a', 'b']);
    expect(root.attributes['agentops.session.end_state']).toBe('Success');
    expect(root.attributes['session.id']).toBe(session.id);
  });

  it('links the span active at the call instead of parenting under it', () => {
    const outer = trace.getTracer('t').startSpan('outer');
    const session = context.with(trace.setSpan(context.active(), outer), () => startSession());
    session.end('Fail');
    outer.end();
    const root = t.one('session');
    expect(root.spanContext().traceId).not.toBe(outer.spanContext().traceId);
    expect(root.links.map((l) => l.context.spanId)).toEqual([outer.spanContext().spanId]);
    expect(root.attributes['agentops.session.end_state']).toBe('Fail');
    expect(root.status.code).toBe(2);
  });

  it('ends once and maps an unknown end state to Success', () => {
    const session = startSession();
    session.end('Nonsense' as never);
    session.end('Fail');
    expect(t.byName('session')).toHaveLength(1);
    expect(t.one('session').attributes['agentops.session.end_state']).toBe('Success');
  });

  it('gives distinct ids to concurrent sessions', () => {
    const ids = new Set(Array.from({ length: 200 }, () => startSession().id));
    expect(ids.size).toBe(200);
  });
});

describe('withSession and getSessionId', () => {
  it('runs fn in the session: child spans in its trace under its root, stamped with session.id', async () => {
    const session = startSession({ name: 's' });
    const value = await withSession(session, async () => {
      expect(getSessionId()).toBe(session.id);
      await new Promise((r) => setTimeout(r, 5));
      expect(getSessionId()).toBe(session.id);
      return withAgent('planner', () => withTool('search', () => 42));
    });
    session.end();
    expect(value).toBe(42);
    const agentSpan = t.one('planner.agent');
    const toolSpan = t.one('search.tool');
    expect(agentSpan.spanContext().traceId).toBe(session.id);
    expect(parentSpanId(agentSpan)).toBe(session.rootSpanId);
    expect(parentSpanId(toolSpan)).toBe(agentSpan.spanContext().spanId);
    expect(toolSpan.attributes['session.id']).toBe(session.id);
    expect(toolSpan.attributes['agentops.session.id']).toBe(session.id);
    expect(toolSpan.attributes['agentops.span.kind']).toBe('tool');
  });

  it('accepts the id of a live session and parents under its real root', () => {
    const session = startSession();
    withSession(session.id, () => withAgent('a', () => undefined));
    session.end();
    expect(parentSpanId(t.one('a.agent'))).toBe(session.rootSpanId);
  });

  it('keeps other baggage entries of the active context', () => {
    const session = startSession();
    const bag = propagation.createBaggage({ tenant: { value: 'acme' } });
    context.with(propagation.setBaggage(context.active(), bag), () =>
      withSession(session, () => {
        expect(propagation.getBaggage(context.active())?.getEntry('tenant')?.value).toBe('acme');
        expect(getSessionId()).toBe(session.id);
      }),
    );
    session.end();
  });

  it.each([
    ['uppercase', 'ABCDEF0123456789ABCDEF0123456789'],
    ['all zeros', '0'.repeat(32)],
    ['too long', 'a'.repeat(33)],
    ['CR/LF', `${'a'.repeat(30)}\r\n`],
    ['unicode', `${'a'.repeat(31)}é`],
    ['number', 42],
    ['null', null],
  ])('runs fn outside any session for an invalid id (%s), never throwing', (_label, id) => {
    const result = withSession(id as string, () => getSessionId() ?? 'none');
    expect(result).toBe('none');
  });

  it('getSessionId ignores an invalid entry planted in baggage', () => {
    const bag = propagation.createBaggage({ [SESSION_BAGGAGE_KEY]: { value: 'not-a-session' } });
    expect(getSessionId(propagation.setBaggage(context.active(), bag))).toBeUndefined();
  });

  it('keeps 50 interleaved sessions apart across awaits', async () => {
    const sessions = Array.from({ length: 50 }, () => startSession());
    await Promise.all(
      sessions.map((s, i) =>
        withSession(s, async () => {
          await new Promise((r) => setTimeout(r, (i * 7) % 13));
          await withAgent(`agent-${i}`, async () => {
            await new Promise((r) => setTimeout(r, (i * 3) % 5));
            expect(getSessionId()).toBe(s.id);
          });
        }),
      ),
    );
    sessions.forEach((s) => s.end());
    for (let i = 0; i < 50; i++) {
      const span = t.one(`agent-${i}.agent`);
      expect(span.spanContext().traceId).toBe(sessions[i]!.id);
      expect(span.attributes['session.id']).toBe(sessions[i]!.id);
    }
  });
});

describe('span helpers', () => {
  it('records LLM calls with model and both token-usage names', async () => {
    const session = startSession();
    await withSession(session, () =>
      withLlmCall({ model: 'gpt-x', system: 'openai' }, async (span) => {
        recordLlmUsage(span, { promptTokens: 12, completionTokens: 30, responseModel: 'gpt-x-1' });
      }),
    );
    session.end();
    const llm = t.one('chat gpt-x');
    expect(llm.kind).toBe(SpanKind.CLIENT);
    expect(llm.attributes).toMatchObject({
      'agentops.span.kind': 'llm',
      'gen_ai.request.model': 'gpt-x',
      'gen_ai.response.model': 'gpt-x-1',
      'gen_ai.system': 'openai',
      'gen_ai.usage.prompt_tokens': 12,
      'gen_ai.usage.completion_tokens': 30,
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 30,
      'gen_ai.usage.total_tokens': 42,
      'session.id': session.id,
    });
  });

  it('ignores token counts of the wrong type', () => {
    withLlmCall({ model: 'm' }, (span) => recordLlmUsage(span, { promptTokens: '12' as never, completionTokens: -1 }));
    const llm = t.one('chat m');
    expect(llm.attributes['gen_ai.usage.prompt_tokens']).toBeUndefined();
    expect(llm.attributes['gen_ai.usage.completion_tokens']).toBeUndefined();
  });

  it('records errors, sets ERROR status and rethrows them unchanged (sync and async)', async () => {
    const boom = new Error('boom');
    expect(() =>
      withTool('sync', () => {
        throw boom;
      }),
    ).toThrow(boom);
    await expect(
      withTool('async', async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    for (const name of ['sync.tool', 'async.tool']) {
      const span = t.one(name);
      expect(span.status.code).toBe(2);
      expect(span.events.some((e) => e.name === 'exception')).toBe(true);
    }
  });
});
