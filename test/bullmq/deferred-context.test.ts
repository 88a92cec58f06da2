// src/deferred-context.ts, which the BullMQ adapter uses to activate a job's context before
// BullMQ names the job (lives here because the adapter is its only user so far).

import { context, createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deferredContext } from '../../src/hop/deferred-context.js';
import { captureDiag, type DiagCapture } from './helpers.js';

const KEY = createContextKey('test.key');
const OTHER = createContextKey('test.other');

let diagLog: DiagCapture;
beforeAll(() => {
  context.disable();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterAll(() => context.disable());
beforeEach(() => {
  diagLog = captureDiag();
});
afterEach(() => diagLog.stop());

describe('deferredContext', () => {
  it('decides once, at the first read, and every read and derived context sees the decision', async () => {
    let decisions = 0;
    let decided = 'not yet';
    const ctx = deferredContext(() => {
      decisions++;
      return ROOT_CONTEXT.setValue(KEY, decided);
    });
    decided = 'at first read';
    expect(decisions).toBe(0);
    const seen = await context.with(ctx, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return context.active().getValue(KEY);
    });
    expect(seen).toBe('at first read');
    const derived = ctx.setValue(OTHER, 1);
    expect([derived.getValue(KEY), derived.getValue(OTHER)]).toEqual(['at first read', 1]);
    expect(ctx.deleteValue(KEY).getValue(KEY)).toBeUndefined();
    expect(decisions).toBe(1);
  });

  it('answers a read from inside the decision with the fallback instead of recursing', () => {
    const fallback = ROOT_CONTEXT.setValue(KEY, 'fallback');
    let inner: unknown;
    const ctx: ReturnType<typeof deferredContext> = deferredContext(() => {
      inner = ctx.getValue(KEY);
      return ROOT_CONTEXT.setValue(KEY, 'decided');
    }, fallback);
    expect(ctx.getValue(KEY)).toBe('decided');
    expect(inner).toBe('fallback');
  });

  it('uses the fallback, logged, when the decision throws', () => {
    const ctx = deferredContext(
      () => {
        throw new Error('cannot decide');
      },
      ROOT_CONTEXT.setValue(KEY, 'fallback'),
    );
    expect(ctx.getValue(KEY)).toBe('fallback');
    expect(ctx.getValue(KEY)).toBe('fallback');
    expect(diagLog.matching('cannot decide')).toHaveLength(1);
  });
});
