/**
 * A counter the library keeps itself and reports when a reader collects (an observable counter):
 * the SDK's synchronous `add` hashes the attribute set on every call, which costs more than the
 * hop decision it counts. Counting here is one Map update by the identity of an attribute set
 * built once (AttributeSets), and the totals are cumulative, as observable counters report them.
 */
import type { Attributes, ObservableResult } from '@opentelemetry/api';
import { metricSettings, type MetricSettings } from './settings.js';

export class Tally {
  private readonly counts = new Map<Attributes, number>();
  private settings: MetricSettings | undefined;

  /** Counts `n` (default 1) for `attributes` (a set built once and reused: counted by identity). */
  add(attributes: Attributes, n = 1): void {
    this.refresh();
    this.counts.set(attributes, (this.counts.get(attributes) ?? 0) + n);
  }

  /** Reports every total to a collection. */
  observe(result: ObservableResult): void {
    this.refresh();
    for (const [attributes, count] of this.counts) result.observe(count, attributes);
  }

  /** Starts from zero: a new MeterProvider's counters begin at its creation. */
  clear(): void {
    this.counts.clear();
  }

  // `init` with new settings rebuilds the attribute sets (AttributeSets): counts under the old
  // objects would be reported beside the new ones, so they are dropped with them.
  private refresh(): void {
    const current = metricSettings();
    if (current === this.settings) return;
    this.settings = current;
    this.counts.clear();
  }
}

/** The tallied counters: the ones counted on every inbound hop or delivered message. */
export const TALLIES = {
  inboundDecisions: new Tally(),
  inboundDiscarded: new Tally(),
  consumedMessages: new Tally(),
};
