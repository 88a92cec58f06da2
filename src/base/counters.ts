import { sharedState, type SharedState } from './state.js';

type CounterName = keyof SharedState['counters'];

/**
 * Adds to a shared counter. The state object may have been created by an older copy of the
 * package that lacked this counter, so a missing field starts from zero instead of becoming NaN.
 */
export function bump(name: CounterName, by = 1): void {
  const counters = sharedState().counters;
  counters[name] = (counters[name] ?? 0) + by;
}
