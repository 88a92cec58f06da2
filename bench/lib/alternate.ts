/**
 * Shared driver of the scenarios whose configurations live in persistent worker processes
 * (Kafka, BullMQ): start one worker per row (its configuration and build), then call `round` on
 * each in turn, the starting row rotating, for every round; heap after GC before the first
 * measured round and after the last.
 */
import { BenchChild } from './child.js';
import { fmt } from './stats.js';

/** One row: a worker process running `config` on the build in `build`. */
export interface WorkerRow {
  key: string;
  config: string;
  build: string;
}

/** Settings of an alternating run. */
export interface AlternateSettings {
  node: string;
  script: string;
  rows: readonly WorkerRow[];
  rounds: number;
  /** Unmeasured rounds first (JIT, connections, group coordinators). */
  warmupRounds: number;
  roundArgs: Record<string, unknown>;
  log(message: string): void;
  label: string;
  /** Extra Node flags for the workers (`--cpu-prof ...` with --profile). */
  nodeFlags: string[];
}

/** Per row: its processor, spans exported, heap growth, and each metric's per-round samples. */
export interface AlternateResult {
  processor: Record<string, string>;
  exportedSpans: Record<string, number>;
  heap: Record<string, { growthBytes: number; items: number }>;
  samples: Record<string, Record<string, number[]>>;
}

interface Heap {
  heapBytes: number;
  items: number;
}

export async function alternate(settings: AlternateSettings): Promise<AlternateResult> {
  const workers = new Map<string, BenchChild>();
  const result: AlternateResult = { processor: {}, exportedSpans: {}, heap: {}, samples: {} };
  const heapBefore = new Map<string, Heap>();
  try {
    for (const row of settings.rows) {
      const child = new BenchChild(`${settings.label}/${row.key}`, {
        node: settings.node,
        script: settings.script,
        args: [row.config],
        nodeFlags: ['--expose-gc', ...settings.nodeFlags],
        build: row.build,
      });
      workers.set(row.key, child);
      const info = (await child.ready) as { processor: string };
      result.processor[row.key] = info.processor;
      result.samples[row.key] = {};
    }
    for (let round = -settings.warmupRounds; round < settings.rounds; round++) {
      if (round === 0) for (const [key, worker] of workers) heapBefore.set(key, await worker.call<Heap>('heap'));
      const order = settings.rows.map((_, i) => settings.rows[(i + Math.max(round, 0)) % settings.rows.length]!.key);
      const line: string[] = [];
      for (const key of order) {
        const metrics = await workers.get(key)!.call<Record<string, number>>('round', settings.roundArgs);
        if (round < 0) continue;
        for (const [metric, value] of Object.entries(metrics)) (result.samples[key]![metric] ??= []).push(value);
        line.push(
          `${key} ${Object.entries(metrics)
            .map(([m, v]) => `${m} ${fmt(v)}`)
            .join(' ')}`,
        );
      }
      settings.log(
        `  ${settings.label} ${round < 0 ? 'warm-up' : `round ${round + 1}/${settings.rounds}`}${line.length > 0 ? `: ${line.join('; ')}` : ''}`,
      );
    }
    for (const [key, worker] of workers) {
      const after = await worker.call<Heap>('heap');
      result.heap[key] = { growthBytes: after.heapBytes - heapBefore.get(key)!.heapBytes, items: after.items - heapBefore.get(key)!.items };
      result.exportedSpans[key] = (await worker.call<{ exported: number }>('stats')).exported;
      if (key !== 'bare' && result.exportedSpans[key] === 0)
        throw new Error(`${settings.label}/${key} exported no span: the configuration did not trace`);
    }
  } finally {
    await Promise.all([...workers.values()].map((w) => w.close()));
  }
  return result;
}

/** One row per configuration on the build under test, plus `ours-baseline` on the baseline build. */
export function workerRows(configs: readonly string[], build: string, baseline: string | undefined): WorkerRow[] {
  const rows = configs.map((config) => ({ key: config, config, build }));
  if (baseline !== undefined) rows.splice(configs.indexOf('ours') + 1, 0, { key: 'ours-baseline', config: 'ours', build: baseline });
  return rows;
}
