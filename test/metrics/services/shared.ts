// What the two services of test/metrics/two-services.test.ts share: the price table, the LLM
// stand-in (a real LLM span with fixed usage), and the stop signal.

import { recordLlmUsage, withLlmCall, type InitHandle, type LlmUsage } from '../../../src/index.js';

/** US dollars per million tokens. */
export const SERVICE_PRICES = {
  'gpt-4o-2024-08-06': { input: 2.5, output: 10, cachedInput: 1.25 },
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
};

export function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

/** An LLM call that reports `usage`, as a provider SDK would. */
export function llm(model: string, system: string, usage: LlmUsage): Promise<void> {
  return withLlmCall({ model, system }, async (span) => {
    await new Promise((resolve) => setTimeout(resolve, 2));
    recordLlmUsage(span, usage);
  });
}

export class ToolFailure extends Error {}

/** Stops on SIGTERM: the service's own cleanup, then init's shutdown (the final OTLP export). */
export function stopOnSignal(telemetry: InitHandle, cleanup: () => Promise<void>): void {
  process.once('SIGTERM', async () => {
    try {
      await cleanup();
    } finally {
      await telemetry.shutdown();
      process.stdout.write('STOPPED\n');
      process.exit(0);
    }
  });
}
