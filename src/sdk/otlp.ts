/** Where spans go: the OTLP endpoint from options and the environment, and AgentOps' token exchange. */

export const AGENTOPS_OTLP_ENDPOINT = 'https://otlp.agentops.ai/v1/traces';
export const AGENTOPS_API_ENDPOINT = 'https://api.agentops.ai';

/** Resolves the OTLP traces URL: option, then the OTel variables, then AgentOps'. */
export function resolveOtlpEndpoint(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (option) return option;
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  if (env.AGENTOPS_EXPORTER_ENDPOINT) return env.AGENTOPS_EXPORTER_ENDPOINT;
  return undefined;
}

/**
 * Exchanges an AgentOps API key for a bearer token, once, and again after a failure; concurrent
 * exports share one exchange.
 */
export function agentOpsTokenSource(apiKey: string, apiEndpoint: string): () => Promise<string> {
  let pending: Promise<string> | undefined;
  const url = `${apiEndpoint.replace(/\/+$/, '')}/v3/auth/token`;
  return () => {
    pending ??= (async () => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ api_key: apiKey }),
      });
      if (!response.ok) throw new Error(`AgentOps token exchange failed: HTTP ${response.status}`);
      const body = (await response.json()) as { token?: unknown };
      if (typeof body.token !== 'string' || body.token.length === 0) throw new Error('AgentOps token exchange answered without a token');
      return body.token;
    })().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
    return pending;
  };
}
