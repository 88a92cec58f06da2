// The metric attribute sets a messaging consumer records under: looked up again for every message,
// with the last set remembered by the raw values it was asked for. These tests hold the
// remembered answer to what a full lookup gives: the same bounded values, the same object (the
// tallied counters count by identity), a fresh start when init's settings change.
import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { consumerAttributes, recordWait } from '../../src/metrics/messaging.js';
import { setMetricSettings } from '../../src/metrics/settings.js';

const LIMIT = 3;
const settingsWithLimit = (cardinalityLimit: number) => ({ prices: new Map(), cardinalityLimit });

afterEach(() => {
  setMetricSettings(undefined);
  metrics.disable();
});

/** The values `bound` gives a sequence: the first LIMIT distinct ones kept, the rest `_OTHER`. */
function boundedModel(values: readonly string[]): string[] {
  const kept = new Set<string>();
  return values.map((v) => {
    if (kept.has(v)) return v;
    if (kept.size >= LIMIT) return '_OTHER';
    kept.add(v);
    return v;
  });
}

describe('consumer attribute sets', () => {
  it('any sequence of lookups gets the bounded values a fresh lookup gives, one object per distinct set', () => {
    const name = fc.constantFrom('a', 'b', 'c', 'd', 'e');
    const lookup = fc.tuple(
      fc.constantFrom('kafka', 'bullmq'),
      fc.constantFrom('process', 'settle'),
      name,
      fc.option(name, { nil: undefined }),
    );
    fc.assert(
      fc.property(fc.array(lookup, { minLength: 1, maxLength: 40 }), (lookups) => {
        setMetricSettings(settingsWithLimit(LIMIT)); // a new settings object: everything starts over
        const destinations = boundedModel(lookups.map(([, , d]) => d));
        const groups = boundedModel(lookups.filter(([, , , g]) => g !== undefined).map(([, , , g]) => g!));
        let g = 0;
        const byKey = new Map<string, object>();
        lookups.forEach(([system, operation, destination, group], i) => {
          const got = consumerAttributes(system, operation, destination, group);
          const expected: Record<string, string> = {
            'messaging.system': system,
            'messaging.operation.name': operation,
            'messaging.destination.name': destinations[i]!,
          };
          if (group !== undefined) expected['messaging.consumer.group.name'] = groups[g++]!;
          expect(got.base).toEqual(expected);
          const key = JSON.stringify(expected);
          expect(got).toBe(byKey.get(key) ?? byKey.set(key, got).get(key));
        });
      }),
      { numRuns: 200 },
    );
  });

  it('a new settings object forgets the remembered set: the new limit applies from the first lookup', () => {
    setMetricSettings(settingsWithLimit(LIMIT));
    for (const d of ['a', 'b', 'c']) consumerAttributes('kafka', 'process', d, undefined);
    const before = consumerAttributes('kafka', 'process', 'd', undefined);
    expect(before.base['messaging.destination.name']).toBe('_OTHER');
    setMetricSettings(settingsWithLimit(LIMIT));
    const after = consumerAttributes('kafka', 'process', 'd', undefined);
    expect(after.base['messaging.destination.name']).toBe('d');
    expect(after).not.toBe(before);
  });
});

describe('wait attribute sets', () => {
  async function waitSeries(record: () => void): Promise<Map<string, number>> {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
    setMetricSettings(settingsWithLimit(LIMIT));
    record();
    const { resourceMetrics } = await reader.collect();
    await provider.shutdown();
    const series = new Map<string, number>();
    for (const scope of resourceMetrics.scopeMetrics)
      for (const metric of scope.metrics)
        if (metric.descriptor.name === 'agentops.messaging.wait.duration')
          for (const point of metric.dataPoints) series.set(JSON.stringify(point.attributes), (point.value as { count: number }).count);
    return series;
  }

  it('consecutive waits that differ only in system, skew, clock or attempt are kept in their own series', async () => {
    const now = 1_700_000_000_000;
    const series = await waitSeries(() => {
      for (let i = 0; i < 6; i++) recordWait('kafka', 't', 'create_time', undefined, now + (i % 2 === 0 ? -5 : 5), now); // skewed on odd i
      for (let i = 0; i < 6; i++) recordWait('kafka', 't', i % 2 === 0 ? 'create_time' : 'log_append_time', undefined, now - 5, now);
      for (let i = 0; i < 6; i++) recordWait('bullmq', 'q', 'job_timestamp', i % 3 === 0 ? 'first' : 'retry', now - 5, now);
      for (let i = 0; i < 4; i++) recordWait(i % 2 === 0 ? 'kafka' : 'other', 'u', 'create_time', undefined, now - 5, now);
    });
    const base = { 'messaging.system': 'kafka', 'agentops.wait.clock': 'create_time', 'messaging.destination.name': 't' };
    expect(series.get(JSON.stringify(base))).toBe(3 + 3);
    expect(series.get(JSON.stringify({ ...base, 'agentops.wait.skewed': true }))).toBe(3);
    expect(series.get(JSON.stringify({ ...base, 'agentops.wait.clock': 'log_append_time' }))).toBe(3);
    const job = { 'messaging.system': 'bullmq', 'agentops.wait.clock': 'job_timestamp', 'messaging.destination.name': 'q' };
    expect(series.get(JSON.stringify({ ...job, 'agentops.wait.attempt': 'first' }))).toBe(2);
    expect(series.get(JSON.stringify({ ...job, 'agentops.wait.attempt': 'retry' }))).toBe(4);
    const u = { 'agentops.wait.clock': 'create_time', 'messaging.destination.name': 'u' };
    expect(series.get(JSON.stringify({ 'messaging.system': 'kafka', ...u }))).toBe(2);
    expect(series.get(JSON.stringify({ 'messaging.system': 'other', ...u }))).toBe(2);
    expect(series.size).toBe(7);
  });

  it('destinations beyond the limit share the _OTHER series, whatever the order of lookups', async () => {
    const now = 1_700_000_000_000;
    const series = await waitSeries(() => {
      for (const d of ['a', 'b', 'c', 'd', 'd', 'e', 'a', 'e']) recordWait('kafka', d, 'create_time', undefined, now - 5, now);
    });
    const of = (d: string) =>
      series.get(JSON.stringify({ 'messaging.system': 'kafka', 'agentops.wait.clock': 'create_time', 'messaging.destination.name': d }));
    expect([of('a'), of('b'), of('c'), of('_OTHER')]).toEqual([2, 1, 1, 4]);
    expect(series.size).toBe(4);
  });
});
