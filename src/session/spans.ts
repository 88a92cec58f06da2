import { context as otelContext, trace, SpanKind, type Attributes, type Span } from '@opentelemetry/api';
import { runAndEnd } from '../base/run-and-end.js';
import { recordError } from '../base/span-outcome.js';
import { tracer } from '../base/tracer.js';
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
  /** Provider, recorded as `gen_ai.system` (e.g. `openai`). */
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
  /** Model that answered, when it differs from the requested one. */
  responseModel?: string;
}

/**
 * Runs `fn` in a new active span and ends the span when `fn` returns or its promise settles.
 * Errors are recorded and rethrown unchanged.
 */
function runInSpan<T>(name: string, kind: SpanKind, attributes: Attributes, fn: (span: Span) => T): T {
  const span = tracer().startSpan(name, { kind, attributes });
  return runAndEnd(
    trace.setSpan(otelContext.active(), span),
    () => fn(span),
    (failure) => {
      if (failure !== undefined) recordError(span, failure.error);
      span.end();
    },
  );
}

function helperAttributes(kind: AgentOpsSpanKind, name: string, options: SpanHelperOptions | undefined): Attributes {
  const attributes: Attributes = { ...options?.attributes, [ATTR.spanKind]: kind, [ATTR.entityName]: name };
  if (Array.isArray(options?.tags)) attributes[ATTR.tags] = options.tags.filter((t) => typeof t === 'string');
  return attributes;
}

/** Runs `fn` in an agent span (`<name>.agent`, `agentops.span.kind=agent`). */
export function withAgent<T>(name: string, fn: (span: Span) => T, options?: SpanHelperOptions): T {
  return runInSpan(`${name}.agent`, SpanKind.INTERNAL, helperAttributes('agent', name, options), fn);
}

/** Runs `fn` in an operation span (`<name>.operation`). */
export function withOperation<T>(name: string, fn: (span: Span) => T, options?: SpanHelperOptions): T {
  return runInSpan(`${name}.operation`, SpanKind.INTERNAL, helperAttributes('operation', name, options), fn);
}

/** Runs `fn` in a tool span (`<name>.tool`). */
export function withTool<T>(name: string, fn: (span: Span) => T, options?: SpanHelperOptions): T {
  return runInSpan(`${name}.tool`, SpanKind.INTERNAL, helperAttributes('tool', name, options), fn);
}

/** Runs `fn` in an LLM span (`<operation> <model>`, kind CLIENT); record usage with `recordLlmUsage`. */
export function withLlmCall<T>(options: LlmCallOptions, fn: (span: Span) => T): T {
  const operation = options.operation ?? 'chat';
  const attributes = helperAttributes('llm', options.model, options);
  attributes[ATTR.genAiRequestModel] = options.model;
  attributes[ATTR.genAiOperation] = operation;
  if (options.system !== undefined) attributes[ATTR.genAiSystem] = options.system;
  return runInSpan(`${operation} ${options.model}`, SpanKind.CLIENT, attributes, fn);
}

function tokenCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

/**
 * Records token usage under both names AgentOps reads today (`prompt_tokens` /
 * `completion_tokens`) and the current GenAI semconv names (`input_tokens` / `output_tokens`).
 */
export function recordLlmUsage(span: Span, usage: LlmUsage): void {
  const prompt = tokenCount(usage.promptTokens);
  const completion = tokenCount(usage.completionTokens);
  if (prompt !== undefined) {
    span.setAttribute(ATTR.promptTokens, prompt);
    span.setAttribute(ATTR.inputTokens, prompt);
  }
  if (completion !== undefined) {
    span.setAttribute(ATTR.completionTokens, completion);
    span.setAttribute(ATTR.outputTokens, completion);
  }
  if (prompt !== undefined && completion !== undefined) span.setAttribute(ATTR.totalTokens, prompt + completion);
  if (typeof usage.responseModel === 'string') span.setAttribute(ATTR.genAiResponseModel, usage.responseModel);
}
