import { describe, expect, it } from 'vitest';
import { agent, operation, startSession, tool, withSession } from '../../src/index.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';

const t = useTracing();

// Compiled by tsc with experimentalDecorators: true (vitest.config.ts), as NestJS and TypeORM
// projects compile: each decorator receives (prototype or class, key, descriptor).
class Planner {
  constructor(private readonly prefix: string) {}

  @agent({ name: 'planner' })
  async plan(task: string): Promise<string[]> {
    return [await this.step(task), Planner.check(task)];
  }

  @operation()
  async step(task: string): Promise<string> {
    return `${this.prefix}${task}`;
  }

  @tool('checker')
  static check(task: string): string {
    if (task === 'bad') throw new RangeError('bad task');
    return `checked ${task}`;
  }
}

describe('decorators under experimentalDecorators (legacy)', () => {
  it('instance and static methods run in their spans, in the session, with `this` kept', async () => {
    const session = startSession();
    const out = await withSession(session, () => new Planner('p:').plan('otters'));
    session.end();
    expect(out).toEqual(['p:otters', 'checked otters']);
    const planner = t.one('planner.agent');
    expect(parentSpanId(t.one('step.operation'))).toBe(planner.spanContext().spanId);
    expect(parentSpanId(t.one('checker.tool'))).toBe(planner.spanContext().spanId);
    expect(planner.attributes['session.id']).toBe(session.id);
  });

  it('a throwing method: the error is recorded on its span and rethrown', () => {
    expect(() => Planner.check('bad')).toThrow(RangeError);
    const span = t.one('checker.tool');
    expect(span.status.code).toBe(2);
    expect(span.attributes['error.type']).toBe('RangeError');
  });

  it('the method stays non-enumerable, as the descriptor said', () => {
    expect(Object.getOwnPropertyDescriptor(Planner.prototype, 'plan')?.enumerable).toBe(false);
  });

  it('refuses an accessor with a TypeError naming the decorator', () => {
    const decorate = tool() as unknown as (target: object, key: string, descriptor: PropertyDescriptor) => PropertyDescriptor;
    expect(() => decorate({}, 'size', { get: () => 1, configurable: true })).toThrow(/@tool\(\) decorates methods only; size/);
  });
});
