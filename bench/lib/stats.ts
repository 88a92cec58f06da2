/** Summary statistics of one configuration's per-round samples. */
export interface Summary {
  /** Median of the rounds. */
  median: number;
  /** Smallest round. */
  min: number;
  /** Largest round. */
  max: number;
  /** Every round, in the order measured. */
  samples: number[];
}

/** Median, min and max of `samples` (NaN for an empty list). */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, samples: [...samples] };
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number, samples: [...samples] };
}

/**
 * Median of the per-round ratios `a[i] / b[i]`: rounds run alternately, so pairing a round of A
 * with the round of B measured next to it cancels slow drifts of the machine.
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): Summary {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (Number.isFinite(x) && Number.isFinite(y) && y !== 0) ratios.push(x / y);
  }
  return summarize(ratios);
}

/**
 * Median of the per-round differences `a[i] - b[i]` (the cost A adds over B), paired for the
 * same reason as {@link pairedRatio}: one round's noise on this machine is several µs.
 */
export function pairedDifference(a: readonly number[], b: readonly number[]): Summary {
  const differences: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) differences.push((a[i] as number) - (b[i] as number));
  return summarize(differences);
}

/** A number with about three significant digits and thousands separators. */
export function fmt(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs === 0) return '0';
  const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(abs)));
  return value.toFixed(Math.min(decimals, 4));
}

/** `median (min..max)`. */
export function fmtRange(s: Summary, digits = 3): string {
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}..${fmt(s.max, digits)})`;
}

/** A ratio as `0.87x`. */
export function fmtRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}x` : 'n/a';
}
