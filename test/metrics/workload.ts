// A fixed piece of work for the metrics tests, and exactly what it must measure: one session
// with an agent, two LLM calls (one priced by the table with cached input, one on a model the
// table does not price), a tool that succeeds and one that fails.

import { recordLlmUsage, startSession, withAgent, withLlmCall, withSession, withTool } from '../../src/index.js';

/** The price table given to `init`: US dollars per million tokens. */
export const PRICES = { 'gpt-4o-2024-08-06': { input: 2.5, output: 10, cachedInput: 1.25 } };

/** The cost of the priced call, by the table: uncached input, cached input, output. */
export const PRICED_COST = (800 * 2.5 + 200 * 1.25 + 250 * 10) / 1_000_000;

class ToolFailure extends Error {}

/** Runs the work; returns the session id (which no metric may carry). */
export async function workload(): Promise<string> {
  const session = startSession({ name: 'research' });
  await withSession(session, () =>
    withAgent('planner', async () => {
      await withLlmCall({ model: 'gpt-4o', system: 'openai' }, async (span) =>
        recordLlmUsage(span, { promptTokens: 1000, completionTokens: 250, cachedPromptTokens: 200, responseModel: 'gpt-4o-2024-08-06' }),
      );
      await withLlmCall({ model: 'local-llama', system: 'ollama' }, async (span) =>
        recordLlmUsage(span, { promptTokens: 64, completionTokens: 16 }),
      );
      await withTool('search', async () => 'found');
      await withTool('search', async () => {
        throw new ToolFailure('index offline');
      }).catch(() => undefined);
    }),
  );
  session.end('Success');
  return session.id;
}
