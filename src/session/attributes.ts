/** Attribute names the library writes; AgentOps' backend reads these. */
export const ATTR = {
  sessionId: 'session.id',
  agentopsSessionId: 'agentops.session.id',
  spanKind: 'agentops.span.kind',
  entityName: 'agentops.entity.name',
  tags: 'agentops.tags',
  endState: 'agentops.session.end_state',
  /** How an inbound hop joined: parent | rejoin | root | adopted. */
  hopShape: 'agentops.hop.shape',
  /** The trust mode applied to an inbound hop. */
  hopTrust: 'agentops.hop.trust',
  /** Why a link exists: predecessor | adopted | batch | session. */
  linkType: 'agentops.link.type',
  /** The provider, as AgentOps' backend reads it today (the conventions' older name of `gen_ai.provider.name`). */
  genAiSystem: 'gen_ai.system',
  genAiProvider: 'gen_ai.provider.name',
  genAiOperation: 'gen_ai.operation.name',
  genAiRequestModel: 'gen_ai.request.model',
  genAiResponseModel: 'gen_ai.response.model',
  promptTokens: 'gen_ai.usage.prompt_tokens',
  completionTokens: 'gen_ai.usage.completion_tokens',
  totalTokens: 'gen_ai.usage.total_tokens',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  cacheReadInputTokens: 'gen_ai.usage.cache_read.input_tokens',
  /** Cost of an LLM call in US dollars, from the price table given to `init` or the call's own. */
  costUsd: 'agentops.llm.cost.usd',
} as const;
