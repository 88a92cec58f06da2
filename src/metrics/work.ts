/**
 * Agents, tools, operations and sessions: how long each took and how it ended, by the name the
 * application gave it (bounded) and never by anything of one session (its id is on the spans).
 */
import type { Attributes } from '@opentelemetry/api';
import { AttributeSets } from './bounded.js';
import { instruments } from './instruments.js';
import { METRIC_ATTR } from './names.js';

/** A clock reading for a duration, or -1 when no MeterProvider is registered (nothing will be recorded). */
export function measureStart(): number {
  return instruments() === undefined ? -1 : performance.now();
}

function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}

const entitySets = new AttributeSets<Attributes>();

/**
 * Records an agent, tool or operation that ran since `start` (from {@link measureStart}), failed
 * with `errorType` or succeeded.
 */
export function recordEntity(kind: string, name: string, start: number, errorType: string | undefined): void {
  if (start < 0) return;
  const set = instruments();
  if (set === undefined) return;
  const entity = entitySets.bound(METRIC_ATTR.entityName, name);
  const type = errorType === undefined ? undefined : entitySets.bound(METRIC_ATTR.errorType, errorType);
  const key = `${kind}\0${entity}\0${type ?? ''}`;
  let attributes = entitySets.get(key);
  if (attributes === undefined) {
    attributes = {
      [METRIC_ATTR.spanKind]: kind,
      [METRIC_ATTR.entityName]: entity,
      [METRIC_ATTR.outcome]: type === undefined ? 'success' : 'error',
    };
    if (type !== undefined) attributes[METRIC_ATTR.errorType] = type;
    entitySets.set(key, attributes);
  }
  set.entityDuration.record(secondsSince(start), attributes);
}

const sessionSets = new AttributeSets<Attributes>();

/** Records a session that started at `start` and ended in `endState`; `name` is the session's name, if it has one. */
export function recordSession(name: string | undefined, endState: string, start: number): void {
  if (start < 0) return;
  const set = instruments();
  if (set === undefined) return;
  const bounded = name === undefined ? undefined : sessionSets.bound(METRIC_ATTR.entityName, name);
  const key = `${endState}\0${bounded ?? ''}`;
  let attributes = sessionSets.get(key);
  if (attributes === undefined) {
    attributes = { [METRIC_ATTR.endState]: endState };
    if (bounded !== undefined) attributes[METRIC_ATTR.entityName] = bounded;
    sessionSets.set(key, attributes);
  }
  set.sessionDuration.record(secondsSince(start), attributes);
}
