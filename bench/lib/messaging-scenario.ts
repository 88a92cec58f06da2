/**
 * The Kafka and BullMQ scenarios share their shape: bare, the hand-written reference, ours (and
 * ours on the baseline build) and the contrib instrumentation, each in a worker process, rounds
 * alternating; per metric the CPU µs per item, what each row adds over bare (paired median) and
 * how that compares with the reference; heap growth of each worker per million items.
 */
import { alternate, workerRows } from './alternate.js';
import type { Build } from './build.js';
import { costCells, costColumns, costs } from './costs.js';
import { growthPerMillion } from './heap.js';
import type { Check, ScenarioResult } from './report.js';
import { fmt, fmtRatio } from './stats.js';

/** Settings common to the messaging scenarios. */
export interface MessagingSettings {
  node: string;
  build: Build;
  baseline: Build | undefined;
  rounds: number;
  /** Sessions the producer sends from. */
  sessions: number;
  /** Extra Node flags for the workers. */
  nodeFlags: string[];
  /** Worker processes per row (round r on worker r mod this). */
  processes: number;
  /**
   * Unmeasured rounds each worker runs first. With one, every row's first measured rounds ran far
   * above its later ones (bare BullMQ 150, 106, then 73 µs per job over each worker's first,
   * second and later rounds); three shrink that step.
   */
  warmupRounds: number;
  /** Pin the workers to this core; the broker stays unpinned (undefined: workers unpinned too). */
  workerCpu: number | undefined;
  log(message: string): void;
}

/** What differs between Kafka and BullMQ. */
export interface MessagingSpec {
  name: string;
  title: string;
  script: string;
  /** Item noun for the columns: message, job. */
  unit: string;
  labels: Record<string, string>;
  /** Metric key -> label, in table order. */
  metrics: Record<string, string>;
  roundArgs: Record<string, unknown>;
  notes: string[];
  /** The performance issue's target for ours / contrib per metric (added CPU), if any. */
  contribTargets: Record<string, number>;
  /** The target for ours / hand per metric, if any. */
  handTargets: Record<string, number>;
}

const CONFIGS = ['bare', 'hand', 'ours', 'ours-metrics', 'contrib'] as const;
/** Our rows the targets apply to: metrics off, and a collecting metric reader on. */
const OURS_ROWS = ['ours', 'ours-metrics'] as const;

export async function runMessaging(settings: MessagingSettings, spec: MessagingSpec): Promise<ScenarioResult> {
  const rows = workerRows(CONFIGS, settings.build.dir, settings.baseline?.dir);
  settings.log(`${spec.name}: ${settings.rounds} rounds x ${rows.length} rows`);
  const result = await alternate({
    node: settings.node,
    script: spec.script,
    rows,
    rounds: settings.rounds,
    warmupRounds: settings.warmupRounds,
    roundArgs: { ...spec.roundArgs, sessions: settings.sessions },
    log: settings.log,
    label: spec.name,
    nodeFlags: settings.nodeFlags,
    processes: settings.processes,
    workerCpu: settings.workerCpu,
  });
  const label = (key: string) => (key === 'ours-baseline' ? `ours (baseline ${settings.baseline!.name})` : spec.labels[key]!);
  const table: string[][] = [];
  const checks: Check[] = [];
  for (const [metric, metricLabel] of Object.entries(spec.metrics)) {
    const c = costs(Object.fromEntries(rows.map((r) => [r.key, result.samples[r.key]![metric]!])));
    for (const row of rows) table.push([metricLabel, label(row.key), result.processor[row.key]!, ...costCells(row.key, c[row.key]!)]);
    for (const ours of OURS_ROWS) {
      const contribTarget = spec.contribTargets[metric];
      if (contribTarget !== undefined) {
        const ratio = c[ours]!.added.median / c.contrib!.added.median;
        checks.push({
          what: `${spec.name} ${metricLabel}: ${ours} added CPU / contrib`,
          target: `<= ${contribTarget}x`,
          measured: fmtRatio(ratio),
          pass: ratio <= contribTarget,
        });
      }
      const handTarget = spec.handTargets[metric];
      if (handTarget !== undefined)
        checks.push({
          what: `${spec.name} ${metricLabel}: ${ours} added CPU / hand-written reference`,
          target: `<= ${handTarget}x`,
          measured: fmtRatio(c[ours]!.vsHand),
          pass: c[ours]!.vsHand <= handTarget,
        });
    }
  }
  const memory = rows.map((row) => {
    const h = result.heap[row.key]!;
    const perMillion = growthPerMillion(h.growthBytes, h.items);
    if (row.config === 'ours' && perMillion !== undefined)
      checks.push({
        what: `${spec.name}/${row.key}: heap growth per million ${spec.unit}s`,
        target: '< 5 MB',
        measured: `${fmt(perMillion)} MB`,
        pass: perMillion < 5,
      });
    return [
      label(row.key),
      h.items.toLocaleString('en-US'),
      fmt(h.growthBytes / 2 ** 20),
      perMillion === undefined ? `too few ${spec.unit}s` : fmt(perMillion),
      result.exportedSpans[row.key]!.toLocaleString('en-US'),
    ];
  });
  return {
    title: spec.title,
    notes: [
      `${settings.rounds} rounds (after ${settings.warmupRounds} warm-up round${settings.warmupRounds === 1 ? '' : 's'} per worker), rows alternating with the first rotating; ${settings.processes} worker process${settings.processes === 1 ? '' : 'es'} per row, round r on worker r mod ${settings.processes} (identical processes differ for their whole life)`,
      settings.workerCpu !== undefined
        ? `worker processes pinned to core ${settings.workerCpu} (taskset), one at work at a time`
        : 'worker processes unpinned',
      ...spec.notes,
      `CPU µs/${spec.unit}: the worker process's own CPU time (user + system) per ${spec.unit}; µs added: median of the per-round paired differences to bare; x hand: added CPU over the hand-written reference's (bench/reference/)`,
    ],
    table: { columns: ['metric', 'row', 'span processor', ...costColumns(spec.unit)], rows: table },
    extraTables: [
      {
        title: `${spec.title}: worker heap after GC, from the settled heap (${settings.warmupRounds > 1 ? "after each worker's first warm-up round" : 'before the warm-up round'}) to the last measured round`,
        columns: ['row', `${spec.unit}s handled`, 'heap growth MB', `growth per 1M ${spec.unit}s MB`, 'spans exported'],
        rows: memory,
      },
    ],
    checks,
    data: result,
  };
}
