/**
 * LLM calls: `gen_ai.client.token.usage` and `gen_ai.client.operation.duration` as the GenAI
 * conventions define them, and the cost in US dollars from the price table given to `init` or a
 * cost the call reported. A model the table does not price is counted as unpriced, never guessed.
 */
import type { Attributes } from '@opentelemetry/api';
import { AttributeSets } from './bounded.js';
import { instruments } from './instruments.js';
import { METRIC_ATTR } from './names.js';
import { metricSettings } from './settings.js';

/** How a call's cost is known. */
type Pricing = 'price_table' | 'caller' | 'unpriced';

/** Token usage of a call, validated by the caller (non-negative integers). */
export interface TokenCounts {
  input?: number;
  output?: number;
  /** Input tokens served from the provider's cache, included in `input` as the conventions count them. */
  cachedInput?: number;
}

/** The cost of a call and where it comes from. */
export interface CallCost {
  pricing: Pricing;
  /** US dollars; undefined when unpriced. */
  usd: number | undefined;
}

/**
 * Prices `tokens` by the table: the response model's price when the table has it (that model
 * answered and is billed), else the request model's. A cost the caller reported wins.
 */
export function priceCall(requestModel: string, responseModel: string | undefined, tokens: TokenCounts, callerUsd?: number): CallCost {
  if (callerUsd !== undefined) return { pricing: 'caller', usd: callerUsd };
  const prices = metricSettings().prices;
  const price = (responseModel !== undefined ? prices.get(responseModel) : undefined) ?? prices.get(requestModel);
  if (price === undefined) return { pricing: 'unpriced', usd: undefined };
  const input = tokens.input ?? 0;
  const cached = Math.min(tokens.cachedInput ?? 0, input);
  const perMillion = (input - cached) * price.input + cached * (price.cachedInput ?? price.input) + (tokens.output ?? 0) * price.output;
  return { pricing: 'price_table', usd: perMillion / 1_000_000 };
}

/** The attribute sets of one (operation, provider, request model, response model, agent). */
interface CallAttributes {
  /** The conventions' own attributes, for their two instruments. */
  duration: Attributes;
  input: Attributes;
  output: Attributes;
  /** With the agent, for the library's counters. */
  agentInput: Attributes;
  agentOutput: Attributes;
  byPricing: Record<Pricing, Attributes>;
  failed: Map<string, Attributes>;
}

const callSets = new AttributeSets<CallAttributes>();

function callAttributes(report: LlmCallReport): CallAttributes {
  const op = callSets.bound(METRIC_ATTR.operation, report.operation);
  const prov = callSets.bound(METRIC_ATTR.provider, report.provider);
  const req = callSets.bound(METRIC_ATTR.requestModel, report.requestModel);
  const resp = report.responseModel === undefined ? undefined : callSets.bound(METRIC_ATTR.responseModel, report.responseModel);
  const agent = report.agent === undefined ? undefined : callSets.bound(METRIC_ATTR.agentName, report.agent);
  const key = `${op}\0${prov}\0${req}\0${resp ?? ''}\0${agent ?? ''}`;
  const known = callSets.get(key);
  if (known !== undefined) return known;
  const base: Attributes = { [METRIC_ATTR.operation]: op, [METRIC_ATTR.provider]: prov, [METRIC_ATTR.requestModel]: req };
  if (resp !== undefined) base[METRIC_ATTR.responseModel] = resp;
  const ours: Attributes = agent === undefined ? base : { ...base, [METRIC_ATTR.agentName]: agent };
  return callSets.set(key, {
    duration: base,
    input: { ...base, [METRIC_ATTR.tokenType]: 'input' },
    output: { ...base, [METRIC_ATTR.tokenType]: 'output' },
    agentInput: { ...ours, [METRIC_ATTR.tokenType]: 'input' },
    agentOutput: { ...ours, [METRIC_ATTR.tokenType]: 'output' },
    byPricing: {
      price_table: { ...ours, [METRIC_ATTR.pricing]: 'price_table' },
      caller: { ...ours, [METRIC_ATTR.pricing]: 'caller' },
      unpriced: { ...ours, [METRIC_ATTR.pricing]: 'unpriced' },
    },
    failed: new Map(),
  });
}

/** What a call reported, to be recorded once. */
export interface LlmCallReport {
  operation: string;
  provider: string;
  requestModel: string;
  responseModel: string | undefined;
  /** The agent the call ran in, if any. */
  agent: string | undefined;
  tokens: TokenCounts | undefined;
  cost: CallCost | undefined;
}

/** Records the usage of one call: tokens by type (the conventions' histogram, and by agent), its cost, and one call by pricing. */
export function recordLlmUsageMetrics(report: LlmCallReport): void {
  const set = instruments();
  if (set === undefined || (report.tokens === undefined && report.cost === undefined)) return;
  const a = callAttributes(report);
  if (report.tokens?.input !== undefined) {
    set.tokenUsage.record(report.tokens.input, a.input);
    set.llmTokens.add(report.tokens.input, a.agentInput);
  }
  if (report.tokens?.output !== undefined) {
    set.tokenUsage.record(report.tokens.output, a.output);
    set.llmTokens.add(report.tokens.output, a.agentOutput);
  }
  const pricing = report.cost?.pricing ?? 'unpriced';
  if (report.cost?.usd !== undefined) set.llmCost.add(report.cost.usd, a.byPricing[pricing]);
  set.llmCalls.add(1, a.byPricing[pricing]);
}

/** Records the duration of one call (`errorType` when it failed). */
export function recordLlmDuration(report: LlmCallReport, seconds: number, errorType: string | undefined): void {
  const set = instruments();
  if (set === undefined) return;
  const a = callAttributes(report);
  let attributes = a.duration;
  if (errorType !== undefined) {
    const type = callSets.bound(METRIC_ATTR.errorType, errorType);
    attributes = a.failed.get(type) ?? a.failed.set(type, { ...a.duration, [METRIC_ATTR.errorType]: type }).get(type)!;
  }
  set.operationDuration.record(seconds, attributes);
}
