/** Table rows and bar checks shared by the bare / ours / contrib throughput scenarios. */
import type { AlternateResult } from './alternate.js';
import type { Check } from './report.js';
import { fmt, fmtRange, fmtRatio, pairedRatio, summarize } from './stats.js';

/** What a throughput scenario measured and how to label it. */
export interface ThroughputTableSpec {
  /** Scenario name used in the checks (`kafka`, `bullmq`). */
  name: string;
  /** Configurations in table order; must include `bare`, `ours` and `contrib`. */
  configs: readonly string[];
  /** Row label per configuration. */
  labels: Record<string, string>;
  /** Metric key -> label, in table order. */
  metrics: Record<string, string>;
  /** Metrics whose ours / bare ratio is held to the bar (>= 0.90). */
  barMetrics: readonly string[];
}

/**
 * One row per metric and configuration: median (min..max), ratio to bare (with the per-round
 * paired range), ours / contrib, and the microseconds each item costs over bare.
 */
export function throughputTable(result: AlternateResult, spec: ThroughputTableSpec): { rows: string[][]; checks: Check[] } {
  const rows: string[][] = [];
  const checks: Check[] = [];
  for (const [metric, label] of Object.entries(spec.metrics)) {
    const bare = result.samples.bare![metric]!;
    const bareMedian = summarize(bare).median;
    const contribMedian = summarize(result.samples.contrib![metric]!).median;
    for (const config of spec.configs) {
      const samples = result.samples[config]![metric]!;
      const s = summarize(samples);
      const paired = pairedRatio(samples, bare);
      rows.push([
        label,
        spec.labels[config]!,
        result.processor[config]!,
        fmtRange(s),
        config === 'bare' ? '1.00x' : `${fmtRatio(s.median / bareMedian)} (${fmtRatio(paired.min)}..${fmtRatio(paired.max)})`,
        config === 'ours' ? fmtRatio(s.median / contribMedian) : '',
        config === 'bare' ? '' : fmt(1e6 / s.median - 1e6 / bareMedian),
      ]);
      if (config === 'ours' && spec.barMetrics.includes(metric)) {
        const ratio = s.median / bareMedian;
        checks.push({ what: `${spec.name} ${label}: ours / bare`, target: '>= 0.90', measured: fmtRatio(ratio), pass: ratio >= 0.9 });
      }
    }
  }
  return { rows, checks };
}
