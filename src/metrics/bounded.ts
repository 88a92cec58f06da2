/**
 * Attribute values the application chooses (entity, session, model, queue names, error classes)
 * bounded per instrument: the first `cardinalityLimit` distinct values are kept, later ones are
 * recorded as `_OTHER`. A name built from request data (`agent-${userId}`) then costs a bounded
 * number of series instead of one per user. Values a remote caller controls never become
 * attributes at all.
 */
import { OVERFLOW_VALUE } from './names.js';
import { metricSettings, type MetricSettings } from './settings.js';

/**
 * Attribute sets by key, built once and then reused for every measurement (the SDK keeps no
 * reference to the object, but building one per call is an allocation the hot path can skip).
 * Forgets everything when `init` sets new settings, so a new limit applies from the start.
 */
export class AttributeSets<V> {
  private readonly sets = new Map<string, V>();
  /** The values kept so far, per attribute. */
  private readonly kept = new Map<string, Set<string>>();
  private settings: MetricSettings | undefined;

  /** `value` when it is among the first `cardinalityLimit` distinct values of `attribute`, else `_OTHER`. */
  bound(attribute: string, value: string): string {
    this.refresh();
    let kept = this.kept.get(attribute);
    if (kept === undefined) this.kept.set(attribute, (kept = new Set()));
    if (kept.has(value)) return value;
    if (kept.size >= (this.settings as MetricSettings).cardinalityLimit) return OVERFLOW_VALUE;
    kept.add(value);
    return value;
  }

  /** The set stored under `key`, if any. */
  get(key: string): V | undefined {
    this.refresh();
    return this.sets.get(key);
  }

  /** Stores `value` under `key` and returns it. */
  set(key: string, value: V): V {
    this.sets.set(key, value);
    return value;
  }

  private refresh(): void {
    const current = metricSettings();
    if (current === this.settings) return;
    this.settings = current;
    this.sets.clear();
    this.kept.clear();
  }
}
