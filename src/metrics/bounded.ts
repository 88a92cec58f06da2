/**
 * Attribute values the application chooses (entity, session, model, queue names, error classes)
 * bounded per instrument: the first `cardinalityLimit` distinct values are kept, later ones are
 * recorded as `_OTHER`. A name built from request data (`agent-${userId}`) then costs a bounded
 * number of series instead of one per user. Values a remote caller controls never become
 * attributes at all.
 */
import { OVERFLOW_VALUE } from './names.js';
import { metricSettings, type MetricSettings } from './settings.js';

/** One raw value a set is looked up by: a string, a flag, or absent. */
type Part = string | boolean | undefined;
type RecentParts = readonly [Part, Part, Part, Part, Part];

/**
 * Attribute sets by key, built once and then reused for every measurement (the SDK keeps no
 * reference to the object, but building one per call is an allocation the hot path can skip),
 * and the last one asked for by its raw parts (`recentOr`). Forgets everything when `init` sets
 * new settings, so a new limit applies from the start.
 */
export class AttributeSets<V> {
  private readonly sets = new Map<string, V>();
  /** The values kept so far, per attribute. */
  private readonly kept = new Map<string, Set<string>>();
  private settings: MetricSettings | undefined;
  private last: { parts: RecentParts; value: V } | undefined;

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

  /**
   * The set for these parts (the raw values a call site looks a set up by, before `bound`):
   * `build(a, b, c, d, e)` makes or finds it through the keyed lookup, and the last answer is
   * remembered with its parts. Consecutive measurements of one series (a consumer's one topic)
   * then build no key: a key is a new string, and hashing it for the lookup costs about as much
   * as building the set. The remembered answer is the one `build` would give, since a value
   * `bound` kept or overflowed stays so until the settings change, which forgets it.
   */
  recentOr<A extends Part, B extends Part, C extends Part, D extends Part, E extends Part>(
    a: A,
    b: B,
    c: C,
    d: D,
    e: E,
    build: (a: A, b: B, c: C, d: D, e: E) => V,
  ): V {
    this.refresh();
    const last = this.last;
    if (last !== undefined) {
      const p = last.parts;
      if (p[0] === a && p[1] === b && p[2] === c && p[3] === d && p[4] === e) return last.value;
    }
    const value = build(a, b, c, d, e);
    this.last = { parts: [a, b, c, d, e], value };
    return value;
  }

  private refresh(): void {
    const current = metricSettings();
    if (current === this.settings) return;
    this.settings = current;
    this.sets.clear();
    this.kept.clear();
    this.last = undefined;
  }
}
