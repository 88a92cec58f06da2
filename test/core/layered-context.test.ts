import { context, createContextKey, defaultTextMapGetter, ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { layeredOver } from '../../src/base/layered-context.js';
import { deferredContext, startInboundHop } from '../../src/engine.js';
import { useTracing } from '../helpers/otel.js';

useTracing();

const a = createContextKey('test.a');
const b = createContextKey('test.b');
const c = createContextKey('test.c');

/** The values of `keys` in `ctx`. */
function read(ctx: Context, ...keys: symbol[]): unknown[] {
  return keys.map((k) => ctx.getValue(k));
}

describe('layeredOver', () => {
  const base = ROOT_CONTEXT.setValue(a, 'base-a').setValue(b, 'base-b');

  it('reads through to the base until a key is written over it', () => {
    const layer = layeredOver(base);
    expect(read(layer, a, b, c)).toEqual(['base-a', 'base-b', undefined]);
    const written = layer.setValue(a, 'own-a').setValue(c, 'own-c');
    expect(read(written, a, b, c)).toEqual(['own-a', 'base-b', 'own-c']);
  });

  it('is immutable like the API context: every write returns a new context, the old one unchanged', () => {
    const layer = layeredOver(base);
    const one = layer.setValue(c, 1);
    const two = one.setValue(c, 2);
    const deleted = two.deleteValue(a);
    expect(read(layer, a, c)).toEqual(['base-a', undefined]);
    expect(read(one, a, c)).toEqual(['base-a', 1]);
    expect(read(two, a, c)).toEqual(['base-a', 2]);
    expect(read(deleted, a, c)).toEqual([undefined, 2]);
    expect(read(base, a, b, c)).toEqual(['base-a', 'base-b', undefined]);
  });

  it('deletes a key of the base, and a deleted key can be written again', () => {
    const deleted = layeredOver(base).deleteValue(b);
    expect(read(deleted, a, b)).toEqual(['base-a', undefined]);
    expect(deleted.setValue(b, 'again').getValue(b)).toBe('again');
    expect(deleted.setValue(b, 'again').deleteValue(b).getValue(b)).toBeUndefined();
  });

  it('keeps a value written as undefined from falling through to the base', () => {
    expect(layeredOver(base).setValue(a, undefined).getValue(a)).toBeUndefined();
  });

  it('deleting an absent key returns the same context', () => {
    const layer = layeredOver(base);
    expect(layer.deleteValue(c)).toBe(layer);
  });

  it('a layer over a layer is the same layer: writes never stack deeper than one level over the base', () => {
    const layer = layeredOver(base).setValue(c, 'own-c');
    expect(layeredOver(layer)).toBe(layer);
  });

  it('after many writes (folded into the base on the way) reads what the last write of each key says', () => {
    const keys = Array.from({ length: 10 }, (_, i) => createContextKey(`test.k${i}`));
    let ctx = layeredOver(base);
    const expected = new Map<symbol, unknown>([
      [a, 'base-a'],
      [b, 'base-b'],
    ]);
    for (let i = 0; i < 200; i++) {
      const key = i % 7 === 3 ? a : keys[(i * 7) % keys.length]!;
      if (i % 5 === 4) {
        ctx = ctx.deleteValue(key);
        expected.delete(key);
      } else {
        ctx = ctx.setValue(key, i);
        expected.set(key, i);
      }
      for (const k of [a, b, ...keys]) expect(ctx.getValue(k)).toBe(expected.get(k));
    }
  });

  it('over a context of another implementation, copies its entries out first: a deferred context decided by a hop built on it reads without recursing', () => {
    const carrier = { traceparent: '00-5a1e5e55000000000000000000000abc-00f067aa0ba902b7-01' };
    const deferred = deferredContext(
      () => startInboundHop({ carrier, getter: defaultTextMapGetter, spanName: 'job', trust: 'trust', signing: null }).context,
    );
    const read = context.with(deferred, () => {
      const active = context.active();
      return { traceId: trace.getSpan(active)?.spanContext().traceId, absent: active.getValue(createContextKey('test.absent')) };
    });
    expect(read).toEqual({ traceId: '5a1e5e55000000000000000000000abc', absent: undefined });
  });
});
