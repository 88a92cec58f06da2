// The job-metadata carrier on its own: what is written, and how hostile stored strings are read.

import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  emptyJobMetadata,
  formatJobMetadata,
  jobMetadataGetter,
  jobMetadataSetter,
  MAX_JOB_METADATA_CHARS,
  parseJobMetadata,
} from '../../src/carriers/job-metadata.js';
import { captureDiag, type DiagCapture } from './helpers.js';

let diagLog: DiagCapture;
beforeEach(() => {
  diagLog = captureDiag();
});
afterEach(() => diagLog.stop());

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** JSON.parse calls made while `fn` runs. */
function parsesDuring(fn: () => void): number {
  const parse = JSON.parse;
  let parsed = 0;
  JSON.parse = ((...args: Parameters<typeof JSON.parse>) => {
    parsed++;
    return parse(...args);
  }) as typeof JSON.parse;
  try {
    fn();
  } finally {
    JSON.parse = parse;
  }
  return parsed;
}

describe('format', () => {
  it('writes the W3C fields at the top level and nothing when there are none', () => {
    const carrier = emptyJobMetadata();
    jobMetadataSetter.set(carrier, 'traceparent', TRACEPARENT);
    jobMetadataSetter.set(carrier, 'baggage', 'a=1');
    expect(JSON.parse(formatJobMetadata(carrier))).toEqual({ traceparent: TRACEPARENT, baggage: 'a=1' });
    expect(formatJobMetadata(emptyJobMetadata())).toBe('');
  });

  it('never writes the reserved namespace key as a field', () => {
    const carrier = emptyJobMetadata();
    jobMetadataSetter.set(carrier, 'agentops', 'x');
    expect(formatJobMetadata(carrier)).toBe('');
  });
});

describe('parse', () => {
  it('reads what bullmq-otel and we write, ignoring our namespace and other tools keys', () => {
    const carrier = parseJobMetadata(
      JSON.stringify({ traceparent: TRACEPARENT, tracestate: 'v=1', baggage: 'a=1', agentops: { v: 1 }, other: { deep: true } }),
    );
    expect(jobMetadataGetter.get(carrier, 'traceparent')).toBe(TRACEPARENT);
    expect(jobMetadataGetter.get(carrier, 'tracestate')).toBe('v=1');
    expect(jobMetadataGetter.get(carrier, 'baggage')).toBe('a=1');
    expect(jobMetadataGetter.keys(carrier).sort()).toEqual(['baggage', 'traceparent', 'tracestate']);
    expect(diagLog.messages).toEqual([]);
  });

  it('reads a capitalised field when the lowercase one is absent', () => {
    expect(jobMetadataGetter.get(parseJobMetadata(JSON.stringify({ Traceparent: TRACEPARENT })), 'Traceparent')).toBe(TRACEPARENT);
    expect(jobMetadataGetter.get(parseJobMetadata(JSON.stringify({ traceparent: TRACEPARENT })), 'TraceParent')).toBe(TRACEPARENT);
  });

  it('treats absent metadata as none, silently', () => {
    for (const raw of [undefined, null, '']) expect(parseJobMetadata(raw)).toBeUndefined();
    expect(diagLog.messages).toEqual([]);
  });

  it.each([
    ['not JSON', '{traceparent: nope', 'not JSON'],
    ['JSON null', 'null', 'JSON null'],
    ['a JSON array', JSON.stringify([TRACEPARENT]), 'JSON array'],
    ['a JSON string', JSON.stringify(TRACEPARENT), 'JSON string'],
    ['a JSON number', '42', 'JSON number'],
  ])('drops %s with a diag log', (_what, raw, logged) => {
    expect(parseJobMetadata(raw)).toBeUndefined();
    expect(diagLog.matching(logged)).toHaveLength(1);
  });

  it("takes no context from Sentry's bare sentry-trace value, and says so at debug level only", () => {
    expect(parseJobMetadata(`${'a'.repeat(32)}-${'b'.repeat(16)}-1`)).toBeUndefined();
    expect(parseJobMetadata(`${'a'.repeat(32)}-${'b'.repeat(16)}`)).toBeUndefined();
    expect(diagLog.matching('dropped')).toEqual([]);
    expect(diagLog.matching('a sentry-trace value')).toHaveLength(2);
  });

  it('drops a non-string with a diag log', () => {
    expect(parseJobMetadata({ traceparent: TRACEPARENT })).toBeUndefined();
    expect(parseJobMetadata(42)).toBeUndefined();
    expect(diagLog.matching('expected a JSON string')).toHaveLength(2);
  });

  it('drops a huge string unparsed', () => {
    const huge = JSON.stringify({ traceparent: TRACEPARENT, baggage: 'a=' + 'b'.repeat(1024 * 1024) });
    expect(parsesDuring(() => expect(parseJobMetadata(huge)).toBeUndefined())).toBe(0);
    expect(diagLog.matching(`limit ${MAX_JOB_METADATA_CHARS}`)).toHaveLength(1);
    // At the limit it is still read.
    const frame = JSON.stringify({ traceparent: TRACEPARENT, pad: '' }).length;
    const atLimit = JSON.stringify({ traceparent: TRACEPARENT, pad: 'x'.repeat(MAX_JOB_METADATA_CHARS - frame) });
    expect(atLimit.length).toBe(MAX_JOB_METADATA_CHARS);
    expect(jobMetadataGetter.get(parseJobMetadata(atLimit), 'traceparent')).toBe(TRACEPARENT);
  });

  it('drops W3C fields of the wrong type with a diag log and keeps the others', () => {
    const carrier = parseJobMetadata(JSON.stringify({ traceparent: 42, baggage: ['a=1'], tracestate: null, b3: '1-2-3' }));
    expect(jobMetadataGetter.get(carrier, 'traceparent')).toBeUndefined();
    expect(jobMetadataGetter.get(carrier, 'baggage')).toBeUndefined();
    expect(jobMetadataGetter.get(carrier, 'b3')).toBe('1-2-3');
    expect(diagLog.matching('job metadata field')).toHaveLength(3);
  });

  it('parses a string read again once: the same frozen carrier, as for the jobs of one bulk add', () => {
    // A string no other test reads: the memo is the module's.
    const fields = { traceparent: TRACEPARENT, baggage: `memo=${Math.random()}` };
    let first: ReturnType<typeof parseJobMetadata>;
    let again: ReturnType<typeof parseJobMetadata>;
    const parsed = parsesDuring(() => {
      first = parseJobMetadata(JSON.stringify(fields));
      // A string equal to it, not the same object (each job's comes out of Redis separately).
      again = parseJobMetadata(JSON.stringify(fields));
    });
    expect(parsed).toBe(1);
    expect(again).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(() => {
      (first as Record<string, string>).traceparent = 'changed';
    }).toThrow(TypeError);
    expect(jobMetadataGetter.get(again, 'baggage')).toBe(fields.baggage);
  });

  it('parses a string over 2048 characters every time', () => {
    const raw = JSON.stringify({ traceparent: TRACEPARENT, pad: 'x'.repeat(2100), nonce: String(Math.random()) });
    expect(parsesDuring(() => [parseJobMetadata(raw), parseJobMetadata(raw)])).toBe(2);
  });

  it('returns from the memo what a fresh parse returns', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.constant(null))), (object) => {
        const raw = JSON.stringify(object);
        const fresh = parseJobMetadata(raw);
        const remembered = parseJobMetadata(raw);
        expect(remembered === undefined ? undefined : { ...remembered }).toEqual(fresh === undefined ? undefined : { ...fresh });
      }),
      { numRuns: 300 },
    );
  });

  it('logs bad stored metadata every time it is read, not only the first', () => {
    const raw = JSON.stringify({ traceparent: 42, baggage: 'a=1' });
    parseJobMetadata(raw);
    parseJobMetadata(raw);
    parseJobMetadata('not json');
    parseJobMetadata('not json');
    expect(diagLog.matching('job metadata field "traceparent"')).toHaveLength(2);
    expect(diagLog.matching('not JSON')).toHaveLength(2);
  });

  it('keeps __proto__ an ordinary, ignored key', () => {
    const carrier = parseJobMetadata('{"__proto__":{"traceparent":"polluted"},"constructor":"x"}');
    expect(jobMetadataGetter.get(carrier, 'traceparent')).toBeUndefined();
    expect(({} as Record<string, unknown>).traceparent).toBeUndefined();
    expect(jobMetadataGetter.get(carrier, 'constructor')).toBe('x');
    expect(jobMetadataGetter.get(carrier, 'toString')).toBeUndefined();
  });

  it('never throws, whatever is stored', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.anything()), (raw) => {
        const carrier = parseJobMetadata(raw);
        for (const key of jobMetadataGetter.keys(carrier)) expect(typeof jobMetadataGetter.get(carrier, key)).toBe('string');
      }),
      { numRuns: 500 },
    );
  });
});
