/**
 * The figure every scenario reports: CPU µs per request / message / job, and what a row adds over
 * `bare` as the median of the per-round paired differences (with their range), next to the
 * hand-written reference's added cost ("x hand": the row's median added cost over the
 * reference's, with the range of the per-round ratios).
 */
import { fmt, fmtRange, fmtRatio, pairedDifference, pairedRatio, summarize, type Summary } from './stats.js';

/** Per-round CPU µs per item of one row, the rows measured in the same alternating rounds. */
export type CostSamples = Record<string, number[]>;

/** A row's cost figures. */
export interface Cost {
  cpu: Summary;
  /** Paired per-round differences to bare. */
  added: Summary;
  /** Median added / the reference's median added. */
  vsHand: number;
  /** Per-round ratios of the added costs to the reference's. */
  vsHandRounds: Summary;
}

/** Cost figures of every row; `hand` may be absent (no reference in the scenario). */
export function costs(samples: CostSamples, bare = 'bare', hand = 'hand'): Record<string, Cost> {
  const out: Record<string, Cost> = {};
  const bareSamples = samples[bare]!;
  const handAdded = samples[hand] === undefined ? undefined : samples[hand].map((v, i) => v - (bareSamples[i] as number));
  const handMedian = handAdded === undefined ? Number.NaN : summarize(handAdded).median;
  for (const [row, cpu] of Object.entries(samples)) {
    const added = pairedDifference(cpu, bareSamples);
    const rowAdded = cpu.map((v, i) => v - (bareSamples[i] as number));
    out[row] = {
      cpu: summarize(cpu),
      added,
      vsHand: added.median / handMedian,
      vsHandRounds: handAdded === undefined ? summarize([]) : pairedRatio(rowAdded, handAdded),
    };
  }
  return out;
}

/** The table cells of a row: CPU µs/item, µs added over bare, x hand. */
export function costCells(row: string, cost: Cost, bare = 'bare'): string[] {
  if (row === bare) return [fmtRange(cost.cpu), '', ''];
  const vsHand = Number.isFinite(cost.vsHand)
    ? `${fmtRatio(cost.vsHand)} (${fmtRatio(cost.vsHandRounds.min)}..${fmtRatio(cost.vsHandRounds.max)})`
    : '';
  return [fmtRange(cost.cpu), `${fmt(cost.added.median)} (${fmt(cost.added.min)}..${fmt(cost.added.max)})`, vsHand];
}

/** Column titles of {@link costCells}, for items named `unit` (request, message, job). */
export function costColumns(unit: string): string[] {
  return [`CPU µs/${unit}`, `µs added per ${unit} over bare (paired median, min..max)`, 'x hand (per-round range)'];
}
