/**
 * Shared driver of the scenarios whose configurations live in persistent worker processes
 * (Kafka, BullMQ): start `processes` workers per row (its configuration and build), then call
 * `round` on each row in turn, the starting row rotating, round r on the row's worker r mod
 * `processes`, every worker warmed up first; heap after GC at the settle point (below) and after the
 * last measured round (the items between counted), added up over a row's workers.
 */
import { BenchChild } from './child.js';
import { processOf, rowOfProcess } from './processes.js';
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
  /** Worker processes per row: round r runs on process r mod this (identical processes differ for good). */
  processes: number;
  /** Pin every worker to this core (undefined: unpinned). */
  workerCpu: number | undefined;
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
  const workerOf = (key: string, round: number) => processOf(key, round, settings.processes);
  try {
    for (let i = 0; i < settings.processes; i++) {
      for (const row of settings.rows) {
        const child = new BenchChild(`${settings.label}/${workerOf(row.key, i)}`, {
          node: settings.node,
          script: settings.script,
          args: [row.config],
          nodeFlags: ['--expose-gc', ...settings.nodeFlags],
          build: row.build,
          cpu: settings.workerCpu,
        });
        workers.set(workerOf(row.key, i), child);
        const info = (await child.ready) as { processor: string };
        result.processor[row.key] = info.processor;
        result.samples[row.key] = {};
      }
    }
    // Warm-up rounds on every worker; then each measured round on one worker per row. With more
    // than one warm-up round the heap is settled (forced full collections) after each worker's
    // first, so that what that round builds once (compiled code, connections) is not counted as
    // growth; with one, before it.
    const warmups = settings.warmupRounds * settings.processes;
    const settleAt = settings.warmupRounds > 1 ? -warmups + settings.processes : -warmups;
    for (let round = -warmups; round < settings.rounds; round++) {
      if (round === settleAt) for (const [name, worker] of workers) heapBefore.set(name, await worker.call<Heap>('heap'));
      const order = settings.rows.map((_, i) => settings.rows[(i + Math.max(round, 0)) % settings.rows.length]!.key);
      const line: string[] = [];
      for (const key of order) {
        const metrics = await workers.get(workerOf(key, round))!.call<Record<string, number>>('round', settings.roundArgs);
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
    for (const [name, worker] of workers) {
      const key = rowOfProcess(name);
      const after = await worker.call<Heap>('heap');
      const total = (result.heap[key] ??= { growthBytes: 0, items: 0 });
      total.growthBytes += after.heapBytes - heapBefore.get(name)!.heapBytes;
      total.items += after.items - heapBefore.get(name)!.items;
      const spans = (await worker.call<{ exported: number }>('stats')).exported;
      result.exportedSpans[key] = (result.exportedSpans[key] ?? 0) + spans;
      if (key !== 'bare' && spans === 0) throw new Error(`${settings.label}/${name} exported no span: the configuration did not trace`);
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
