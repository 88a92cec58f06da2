import { describe, expect, it } from 'vitest';
import { agent, startSession, tool, withSession } from '../../src/index.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';

const t = useTracing();

describe('decorators (compiled by tsc, as users compile them)', () => {
  it('decorates methods with agent and tool spans that keep `this`', async () => {
    class Researcher {
      prefix = 'r:';
      @agent('researcher')
      async run(q: string) {
        return this.lookup(q);
      }
      @tool()
      lookup(q: string) {
        return this.prefix + q;
      }
    }
    const session = startSession();
    const out = await withSession(session, () => new Researcher().run('x'));
    session.end();
    expect(out).toBe('r:x');
    const agentSpan = t.one('researcher.agent');
    const toolSpan = t.one('lookup.tool');
    expect(parentSpanId(toolSpan)).toBe(agentSpan.spanContext().spanId);
    expect(agentSpan.attributes['session.id']).toBe(session.id);
  });

  it('records errors thrown by decorated methods and rethrows them', async () => {
    const boom = new Error('tool failed');
    class Tools {
      @tool('fails')
      async run(): Promise<never> {
        throw boom;
      }
    }
    await expect(new Tools().run()).rejects.toBe(boom);
    expect(t.one('fails.tool').status.code).toBe(2);
  });
});
