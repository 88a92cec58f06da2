/** What the four demo services share: telemetry setup, the LLM stand-in, ports and shutdown. */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { createHash } from 'node:crypto';
import { init, recordLlmUsage, withLlmCall, type InitHandle } from 'agentops-propagation';

/** Topic and queue the services talk through. */
export const RESEARCH_TOPIC = process.env.DEMO_TOPIC ?? 'agentops-demo.research-tasks';
export const WRITER_QUEUE = process.env.DEMO_QUEUE ?? 'agentops-demo-writer';

export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set (the demo runner sets it)`);
  return value;
}

/**
 * The stand-in models' prices in US dollars per million tokens. `critic-mini` is left out on
 * purpose: its calls are counted as unpriced, never guessed.
 */
export const DEMO_PRICES = {
  'gateway-mini': { input: 0.15, output: 0.6 },
  'planner-large': { input: 2.5, output: 10 },
  'researcher-large': { input: 2.5, output: 10, cachedInput: 1.25 },
  'writer-large': { input: 3, output: 15 },
};

/**
 * Telemetry for one service: spans go over OTLP/HTTP to the backend the demo checks against
 * (Jaeger, or its own collector), and also to OTEL_EXPORTER_OTLP_ENDPOINT (AgentOps, ...) when
 * that is set, which init reads itself; metrics are served at http://127.0.0.1:$METRICS_PORT/metrics
 * (one loopback port per service, which the runner scrapes) and also sent over OTLP when an
 * endpoint or AgentOps key is configured.
 */
export function startTelemetry(serviceName: string): InitHandle {
  const backend = requiredEnv('DEMO_OTLP_URL');
  const otlp = Boolean(
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT || process.env.AGENTOPS_API_KEY,
  );
  return init({
    serviceName,
    exporters: [new OTLPTraceExporter({ url: `${backend}/v1/traces` })],
    exportQueue: { scheduledDelayMillis: 250 },
    metrics: {
      exporters: otlp ? ['prometheus', 'otlp'] : ['prometheus'],
      prometheusPort: Number(requiredEnv('METRICS_PORT')),
      prices: DEMO_PRICES,
    },
  });
}

function tokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/**
 * A deterministic stand-in for an LLM call: no network, no key, the same answer for the same
 * prompt, yet a real LLM span with model and token usage, as a provider SDK would record.
 */
export async function llm(model: string, prompt: string): Promise<string> {
  return withLlmCall({ model, system: 'local-standin' }, async (span) => {
    const digest = createHash('sha256').update(`${model}|${prompt}`).digest('hex');
    await new Promise((resolve) => setTimeout(resolve, 5 + (parseInt(digest.slice(0, 2), 16) % 20)));
    const completion = `[${model}] ${prompt.slice(0, 60)} -> ${digest.slice(0, 16)}`;
    const promptTokens = tokens(prompt);
    // As providers report a prompt prefix served from their cache: a quarter of it, here.
    recordLlmUsage(span, { promptTokens, completionTokens: tokens(completion), cachedPromptTokens: Math.floor(promptTokens / 4) });
    return completion;
  });
}

/** Signals the runner that the service is ready; the runner waits for this exact line. */
export function announceReady(service: string): void {
  process.stdout.write(`READY ${service}\n`);
}

/** Flushes spans and stops the service on SIGTERM/SIGINT, after its own cleanup. */
export function onShutdown(telemetry: InitHandle, cleanup: () => Promise<void>): void {
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await cleanup();
    } catch (err) {
      console.error('cleanup failed:', err);
    }
    await telemetry.shutdown();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
