import {
  context as otelContext,
  createContextKey,
  trace,
  SpanKind,
  type Attributes,
  type AttributeValue,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { guard } from '../base/diag.js';
import { runAndEnd } from '../base/run-and-end.js';
import { errorType, recordError } from '../base/span-outcome.js';
import { tracer } from '../base/tracer.js';
import { priceCall, recordLlmDuration, recordLlmUsageMetrics, type LlmCallReport, type TokenCounts } from '../metrics/llm.js';
import { measureStart, recordEntity } from '../metrics/work.js';
import { ATTR } from './attributes.js';

/** The AgentOps span kinds the helpers create. */
export type AgentOpsSpanKind = 'agent' | 'operation' | 'tool' | 'llm';

/** Options shared by the span helpers. */
export interface SpanHelperOptions {
  /** Extra attributes for the span. */
  attributes?: Attributes;
  /** Tags recorded as `agentops.tags`. */
  tags?: string[];
}

/** Options of `withLlmCall`. */
export interface LlmCallOptions extends SpanHelperOptions {
  /** Requested model, recorded as `gen_ai.request.model`. */
  model: string;
  /** Provider, recorded as `gen_ai.provider.name` and, for AgentOps' backend, `gen_ai.system` (e.g. `openai`). */
  system?: string;
  /** GenAI operation name (default `chat`). */
  operation?: string;
}

/** Token usage of one LLM call. */
export interface LlmUsage {
  /** Tokens in the prompt. */
  promptTokens?: number;
  /** Tokens generated. */
  completionTokens?: number;
  /** Prompt tokens served from the provider's cache, included in `promptTokens` (priced at the table's `cachedInput`). */
  cachedPromptTokens?: number;
  /** Model that answered, when it differs from the requested one. */
  responseModel?: string;
  /** The call's cost in US dollars, when the provider reported it: used instead of the price table. */
  costUsd?: number;
}

/**
 * Runs `fn` in a new active span and ends the span when `fn` returns or its promise settles.
 * Errors are recorded and rethrown unchanged; `ended` then measures the work, if given.
 */
function runInSpan<T>(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  fn: (span: Span) => T,
  ended?: (span: Span, error: { error: unknown } | undefined) => void,
  within: (ctx: Context) => Context = (ctx) => ctx,
): T {
  const span = tracer().startSpan(name, { kind, attributes });
  return runAndEnd(
    within(trace.setSpan(otelContext.active(), span)),
    () => fn(span),
    (failure) => {
      if (failure !== undefined) recordError(span, failure.error);
      span.end();
      // Measuring must never fail the work it measures.
      if (ended !== undefined) guard('recording a measurement failed', undefined, ended, span, failure);
    },
  );
}

function helperAttributes(kind: AgentOpsSpanKind, name: string, options: SpanHelperOptions | undefined): Attributes {
  const attributes: Attributes = { ...options?.attributes, [ATTR.spanKind]: kind, [ATTR.entityName]: name };
  if (Array.isArray(options?.tags)) attributes[ATTR.tags] = options.tags.filter((t) => typeof t === 'string');
  return attributes;
}

/**
 * The agent a context runs in, for the LLM counters by agent. `createContextKey` uses
 * `Symbol.for`: the ESM and CJS builds agree on it.
 */
const AGENT_KEY = createContextKey('agentops-propagation.agent');

/** An agent, tool or operation span, measured (`agentops.entity.duration`) when a MeterProvider is registered. */
function runEntity<T>(
  kind: 'agent' | 'operation' | 'tool',
  name: string,
  fn: (span: Span) => T,
  options: SpanHelperOptions | undefined,
): T {
  const attributes = helperAttributes(kind, name, options);
  const start = measureStart();
  if (start < 0) return runInSpan(`${name}.${kind}`, SpanKind.INTERNAL, attributes, fn);
  return runInSpan(
    `${name}.${kind}`,
    SpanKind.INTERNAL,
    attributes,
    fn,
    (_span, failure) => recordEntity(kind, name, start, failure === undefined ? undefined : errorType(failure.error)),
    kind === 'agent' ? (ctx) => ctx.setValue(AGENT_KEY, name) : undefined,
  );
}

function agentOf(ctx: Context): string | undefined {
  const agent = ctx.getValue(AGENT_KEY);
  return typeof agent === 'string' ? agent : undefined;
}

/** Runs `fn` in an agent span (`<name>.agent`, `agentops.span.kind=agent`). */
export function withAgent<T>(name: string, fn: (span: Span) => T, options?: SpanHelperOptions): T {
  return runEntity('agent', name, fn, options);
}

/** Runs `fn` in an operation span (`<name>.operation`). */
export function withOperation<T>(name: string, fn: (span: Span) => T, options?: SpanHelperOptions): T {
  return runEntity('operation', name, fn, options);
}

/** Runs `fn` in a tool span (`<name>.tool`). */
export function withTool<T>(name: string, fn: (span: Span) => T, options?: SpanHelperOptions): T {
  return runEntity('tool', name, fn, options);
}

/** An LLM call in progress: what its span's end records. */
interface LlmCall extends LlmCallReport {
  start: number;
}

/** The calls `withLlmCall` is running, by span, so that `recordLlmUsage` can add to them. */
const llmCalls = new WeakMap<Span, LlmCall>();

/**
 * Runs `fn` in an LLM span (`<operation> <model>`, kind CLIENT); record usage with
 * `recordLlmUsage`. When the span ends, `gen_ai.client.operation.duration` and the usage
 * (`gen_ai.client.token.usage`, cost, calls by pricing) are measured.
 */
export function withLlmCall<T>(options: LlmCallOptions, fn: (span: Span) => T): T {
  const operation = options.operation ?? 'chat';
  const attributes = helperAttributes('llm', options.model, options);
  attributes[ATTR.genAiRequestModel] = options.model;
  attributes[ATTR.genAiOperation] = operation;
  if (options.system !== undefined) {
    attributes[ATTR.genAiSystem] = options.system;
    attributes[ATTR.genAiProvider] = options.system;
  }
  const call: LlmCall = {
    operation,
    provider: typeof options.system === 'string' ? options.system : UNKNOWN_PROVIDER,
    requestModel: String(options.model),
    responseModel: undefined,
    agent: agentOf(otelContext.active()),
    tokens: undefined,
    cost: undefined,
    start: measureStart(),
  };
  return runInSpan(
    `${operation} ${options.model}`,
    SpanKind.CLIENT,
    attributes,
    (span) => {
      llmCalls.set(span, call);
      return fn(span);
    },
    (span, failure) => {
      llmCalls.delete(span);
      if (call.start < 0) return;
      recordLlmDuration(call, (performance.now() - call.start) / 1000, failure === undefined ? undefined : errorType(failure.error));
      recordLlmUsageMetrics(call);
    },
  );
}

/** `gen_ai.provider.name` of a call whose provider was not given (the conventions require the attribute). */
const UNKNOWN_PROVIDER = 'unknown';

function tokenCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

function costValue(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** A string attribute of a span the SDK made (others expose none). */
function spanAttribute(span: Span, key: string): string | undefined {
  const value: AttributeValue | undefined = (span as unknown as { attributes?: Attributes }).attributes?.[key];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Records token usage under both names AgentOps reads today (`prompt_tokens` /
 * `completion_tokens`) and the current GenAI semconv names (`input_tokens` / `output_tokens`),
 * and the cost (`agentops.llm.cost.usd`) when the call reported one or the price table prices its
 * model. Inside `withLlmCall` the measurements are taken when the span ends (the last usage
 * recorded counts, as on the span); on any other span at once. Invalid values are ignored.
 */
export function recordLlmUsage(span: Span, usage: LlmUsage): void {
  const prompt = tokenCount(usage.promptTokens);
  const completion = tokenCount(usage.completionTokens);
  const cached = tokenCount(usage.cachedPromptTokens);
  const responseModel = typeof usage.responseModel === 'string' ? usage.responseModel : undefined;
  if (prompt !== undefined) {
    span.setAttribute(ATTR.promptTokens, prompt);
    span.setAttribute(ATTR.inputTokens, prompt);
  }
  if (completion !== undefined) {
    span.setAttribute(ATTR.completionTokens, completion);
    span.setAttribute(ATTR.outputTokens, completion);
  }
  if (cached !== undefined) span.setAttribute(ATTR.cacheReadInputTokens, cached);
  if (prompt !== undefined && completion !== undefined) span.setAttribute(ATTR.totalTokens, prompt + completion);
  if (responseModel !== undefined) span.setAttribute(ATTR.genAiResponseModel, responseModel);

  const tokens: TokenCounts = {};
  if (prompt !== undefined) tokens.input = prompt;
  if (completion !== undefined) tokens.output = completion;
  if (cached !== undefined) tokens.cachedInput = cached;
  const call: LlmCallReport = llmCalls.get(span) ?? {
    operation: spanAttribute(span, ATTR.genAiOperation) ?? 'chat',
    provider: spanAttribute(span, ATTR.genAiProvider) ?? spanAttribute(span, ATTR.genAiSystem) ?? UNKNOWN_PROVIDER,
    requestModel: spanAttribute(span, ATTR.genAiRequestModel) ?? responseModel ?? 'unknown',
    responseModel: undefined,
    agent: agentOf(otelContext.active()),
    tokens: undefined,
    cost: undefined,
  };
  if (responseModel !== undefined) call.responseModel = responseModel;
  call.tokens = tokens;
  call.cost = priceCall(call.requestModel, call.responseModel, tokens, costValue(usage.costUsd));
  if (call.cost.usd !== undefined) span.setAttribute(ATTR.costUsd, call.cost.usd);
  if (!llmCalls.has(span)) recordLlmUsageMetrics(call);
}
