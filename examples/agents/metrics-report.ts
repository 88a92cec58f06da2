/**
 * The demo's metrics report: tokens and cost per session, summed from the LLM spans read back
 * from the trace backend (metrics carry no session id), then per agent and model and the wait
 * per transport, scraped from each service's Prometheus endpoint as a Prometheus server would.
 */
import type { CollectedSpan } from './collector.js';

/** One sample line of the text exposition format: `name{label="value",...} value`. */
export interface Sample {
  service: string;
  name: string;
  labels: Record<string, string>;
  value: number;
}

function unescape(value: string): string {
  return value.replace(/\\(["\\n])/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

/** The samples of one scrape (comments and `# TYPE`/`# HELP` lines skipped). */
export function parseSamples(service: string, text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = unescape(l[2]!);
    samples.push({ service, name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Scrapes `url` (a service's /metrics). */
export async function scrapeService(service: string, url: string): Promise<Sample[]> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${service}: ${url} answered ${response.status}`);
  return parseSamples(service, await response.text());
}

const usd = (value: number) => `$${value.toFixed(6)}`;
const pad = (text: string, width: number) => text.padEnd(width);

/** Tokens and cost of one session, from its LLM spans. */
export function sessionUsage(spans: readonly CollectedSpan[], sessionId: string): string {
  let calls = 0;
  let input = 0;
  let output = 0;
  let cost = 0;
  let unpriced = 0;
  for (const s of spans) {
    if (s.traceId !== sessionId || s.attributes['agentops.span.kind'] !== 'llm') continue;
    calls++;
    input += Number(s.attributes['gen_ai.usage.input_tokens'] ?? 0);
    output += Number(s.attributes['gen_ai.usage.output_tokens'] ?? 0);
    const spent = s.attributes['agentops.llm.cost.usd'];
    if (typeof spent === 'number') cost += spent;
    else unpriced++;
  }
  return `session ${sessionId}: ${calls} LLM calls, ${input + output} tokens (in ${input}, out ${output}), ${usd(cost)}${unpriced > 0 ? ` + ${unpriced} unpriced calls` : ''}`;
}

/** Per agent and model (tokens, calls, cost), and the wait per transport, from the scrapes. */
export function renderMetrics(samples: readonly Sample[]): string[] {
  const rows = new Map<
    string,
    { service: string; agent: string; model: string; input: number; output: number; calls: number; cost: number; unpriced: number }
  >();
  const row = (s: Sample) => {
    const agent = s.labels.agentops_agent_name ?? '-';
    const model = s.labels.gen_ai_request_model ?? '-';
    const key = `${s.service}\0${agent}\0${model}`;
    let r = rows.get(key);
    if (r === undefined) rows.set(key, (r = { service: s.service, agent, model, input: 0, output: 0, calls: 0, cost: 0, unpriced: 0 }));
    return r;
  };
  for (const s of samples) {
    if (s.name === 'agentops_llm_tokens_total') {
      if (s.labels.gen_ai_token_type === 'input') row(s).input += s.value;
      else row(s).output += s.value;
    } else if (s.name === 'agentops_llm_calls_total') {
      row(s).calls += s.value;
      if (s.labels.agentops_llm_pricing === 'unpriced') row(s).unpriced += s.value;
    } else if (s.name === 'agentops_llm_cost_total') row(s).cost += s.value;
  }
  const lines = ['per agent and model (scraped from each service):'];
  for (const r of [...rows.values()].sort((a, b) => (a.service + a.agent).localeCompare(b.service + b.agent))) {
    const price = r.unpriced === r.calls ? 'unpriced' : usd(r.cost);
    lines.push(
      `  ${pad(r.service, 11)}${pad(r.agent, 12)}${pad(r.model, 18)}${String(r.calls).padStart(3)} calls  in ${String(r.input).padStart(6)}  out ${String(r.output).padStart(6)}  ${price}`,
    );
  }
  const waits = new Map<string, { count: number; sum: number; system: string; destination: string }>();
  for (const s of samples) {
    if (s.name !== 'agentops_messaging_wait_duration_count' && s.name !== 'agentops_messaging_wait_duration_sum') continue;
    const key = `${s.labels.messaging_system}\0${s.labels.messaging_destination_name}`;
    let w = waits.get(key);
    if (w === undefined)
      waits.set(
        key,
        (w = { count: 0, sum: 0, system: s.labels.messaging_system ?? '?', destination: s.labels.messaging_destination_name ?? '?' }),
      );
    if (s.name.endsWith('_count')) w.count += s.value;
    else w.sum += s.value;
  }
  lines.push('wait from the producer hop to the consumer hop, per transport:');
  for (const w of [...waits.values()].sort((a, b) => a.system.localeCompare(b.system))) {
    lines.push(
      `  ${pad(w.system, 8)}${pad(w.destination, 32)}${String(w.count).padStart(3)} deliveries, mean ${(w.count === 0 ? 0 : (w.sum / w.count) * 1000).toFixed(1)} ms`,
    );
  }
  return lines;
}
