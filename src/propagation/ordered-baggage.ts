/**
 * An immutable `Baggage` that keeps insertion order. The API's `createBaggage(record)` goes through
 * a plain object, which moves integer-like keys (`9=`, a valid token) to the front: a hop would
 * reorder the header it forwards. A Map keeps the order the header had.
 */
import type { Baggage, BaggageEntry } from '@opentelemetry/api';

export class OrderedBaggage implements Baggage {
  private readonly map: ReadonlyMap<string, BaggageEntry>;

  constructor(entries?: Iterable<readonly [string, BaggageEntry]>) {
    this.map = new Map(entries);
  }

  getEntry(key: string): BaggageEntry | undefined {
    const entry = this.map.get(key);
    // A copy, as the API's implementation returns: callers must not mutate ours.
    return entry === undefined ? undefined : { ...entry };
  }

  getAllEntries(): [string, BaggageEntry][] {
    // Copies here too: the propagator hands one parsed instance to every extract of a header.
    return Array.from(this.map, ([key, entry]): [string, BaggageEntry] => [key, { ...entry }]);
  }

  setEntry(key: string, entry: BaggageEntry): OrderedBaggage {
    const next = new Map(this.map);
    next.set(key, entry);
    return new OrderedBaggage(next);
  }

  removeEntry(key: string): OrderedBaggage {
    if (!this.map.has(key)) return this;
    const next = new Map(this.map);
    next.delete(key);
    return new OrderedBaggage(next);
  }

  removeEntries(...keys: string[]): OrderedBaggage {
    const next = new Map(this.map);
    for (const key of keys) next.delete(key);
    return new OrderedBaggage(next);
  }

  clear(): OrderedBaggage {
    return new OrderedBaggage();
  }
}
