/**
 * Propagation health: what each inbound decision did with the caller's context, per transport,
 * and what an inbound hop discarded. Only bounded values become attributes (the transport, the
 * trust and shape modes, a fixed set of outcomes); nothing the caller sent does.
 *
 * A decision is bracketed by {@link markDecision} and {@link recordDecision}: what the parsers'
 * discard counters moved by in between tells whether a header was malformed or over the limits
 * (the decision is synchronous, so nothing else moves them meanwhile). A refused signature is in
 * the decision itself.
 */
import type { Attributes } from '@opentelemetry/api';
import { sharedState, type SharedState } from '../base/state.js';
import { AttributeSets } from './bounded.js';
import { instruments } from './instruments.js';
import { TALLIES } from './tally.js';
import { METRIC_ATTR } from './names.js';

/** What a decision did with the caller's context. */
type DecisionOutcome =
  /** A session entry was accepted: the hop joined the caller's session. */
  | 'accepted'
  /** The caller's trace was continued; it carried no session entry. */
  | 'continued'
  /** The caller's span was linked, not continued (trust `link`, or a traceparent without a signed entry). */
  | 'linked'
  /** Trust `ignore` (nothing is read), or a context arrived and `link` took none of it. */
  | 'refused'
  /** A session entry failed its signature check (unsigned, forged, expired, unknown key) and was dropped. */
  | 'bad_signature'
  /** Nothing arrived. */
  | 'none';

/** Why a hop discarded part of what it was handed. */
type DiscardReason =
  /** A traceparent, tracestate or baggage member that was malformed or over the limits. */
  | 'malformed_or_over_limits'
  /** A session entry already in the context (another instrumentation's extract) that this library had not vetted. */
  | 'unvetted_entry';

const TRUSTS = ['trust', 'link', 'ignore'] as const;
const SHAPES = ['parent', 'rejoin', 'root'] as const;
const OUTCOMES: readonly DecisionOutcome[] = ['accepted', 'continued', 'linked', 'refused', 'bad_signature', 'none'];

/** The attribute sets of one transport: decisions by trust × shape × outcome, and the two discard reasons. */
interface TransportAttributes {
  decisions: Attributes[];
  unvetted: Attributes;
  malformed: Attributes;
}

const transports = new AttributeSets<TransportAttributes>();

function transportAttributes(raw: string): TransportAttributes {
  const transport = transports.bound(METRIC_ATTR.transport, raw);
  const known = transports.get(transport);
  if (known !== undefined) return known;
  const decisions: Attributes[] = [];
  for (const trust of TRUSTS)
    for (const shape of SHAPES)
      for (const outcome of OUTCOMES)
        decisions.push({
          [METRIC_ATTR.transport]: transport,
          [METRIC_ATTR.trust]: trust,
          [METRIC_ATTR.shape]: shape,
          [METRIC_ATTR.decision]: outcome,
        });
  const reason = (r: DiscardReason): Attributes => ({ [METRIC_ATTR.transport]: transport, [METRIC_ATTR.discardReason]: r });
  return transports.set(transport, { decisions, unvetted: reason('unvetted_entry'), malformed: reason('malformed_or_over_limits') });
}

let markedFields = 0;

function fieldsDiscarded(counters: SharedState['counters']): number {
  return (counters.baggageEntriesDropped ?? 0) + (counters.tracestateDiscarded ?? 0) + (counters.traceparentRejected ?? 0);
}

/** Called right before a decision; false (and nothing read) when no MeterProvider is registered. */
export function markDecision(): boolean {
  if (instruments() === undefined) return false;
  markedFields = fieldsDiscarded(sharedState().counters);
  return true;
}

/** The facts of a decision that {@link recordDecision} needs. */
export interface DecisionFacts {
  trust: 'trust' | 'link' | 'ignore';
  shape: 'parent' | 'rejoin' | 'root';
  /** A session entry was accepted. */
  session: boolean;
  /** The caller's span context was valid. */
  caller: boolean;
  /** Why the caller's session entry or baggage was not taken (the decision's `refused`). */
  refused: string | undefined;
  /** The context the hop started from held a session entry this library had not vetted. */
  unvetted: boolean;
}

/** What the decision did. */
function outcomeOf(facts: DecisionFacts): DecisionOutcome {
  if (facts.trust === 'ignore') return 'refused';
  if (facts.refused !== undefined && facts.refused !== 'untrusted') return 'bad_signature';
  if (facts.trust === 'link') return facts.caller ? 'linked' : facts.refused !== undefined ? 'refused' : 'none';
  return facts.session ? 'accepted' : facts.caller ? 'continued' : 'none';
}

/** Records the decision made since {@link markDecision} returned true. */
export function recordDecision(transport: string, facts: DecisionFacts): void {
  if (instruments() === undefined) return;
  const counters = sharedState().counters;
  const a = transportAttributes(transport);
  const outcome = outcomeOf(facts);
  const index = (TRUSTS.indexOf(facts.trust) * SHAPES.length + SHAPES.indexOf(facts.shape)) * OUTCOMES.length + OUTCOMES.indexOf(outcome);
  TALLIES.inboundDecisions.add(a.decisions[index]!);
  if (fieldsDiscarded(counters) > markedFields) TALLIES.inboundDiscarded.add(a.malformed);
  if (facts.unvetted) TALLIES.inboundDiscarded.add(a.unvetted);
}
