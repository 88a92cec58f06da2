// What the helpers and hops record, scraped from the real Prometheus endpoint and parsed by the
// Prometheus project's parser: propagation health by transport, trust, shape and outcome (real
// Express servers, raw headers), what a hop discarded, the cardinality limit with its overflow
// value, usage recorded on a span of the application's own, a cost the call reported, and the
// span attributes per-session totals are summed from.

import { context, metrics, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import express from 'express';
import type { Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionMiddleware } from '../../adapters/express/index.js';
import { tracer } from '../../src/base/tracer.js';
import { kafkaHeaderGetter } from '../../src/carriers/kafka.js';
import { startInboundHop } from '../../src/hop/inbound.js';
import { init, recordLlmUsage, withTool, type InitHandle } from '../../src/index.js';
import { family, scrape, series, waitForEndpoint, type PromFamily } from './prometheus.js';
import { PRICED_COST, PRICES, workload } from './workload.js';

const KEY = 'a-signing-key-of-32-bytes-length!';
const SESSION = '4bf92f3577b34da6a3ce929d0e0e4736';
const OTHER_TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = '00f067aa0ba902b7';

let handle: InitHandle;
let metricsUrl: string;
const spans = new InMemorySpanExporter();
const servers: Server[] = [];
const bases: Record<string, string> = {};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function serve(name: string, options: Parameters<typeof sessionMiddleware>[0]): Promise<void> {
  const app = express();
  app.use(sessionMiddleware(options));
  app.get('/', (_req, res) => void res.json({ ok: true }));
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  servers.push(server);
  bases[name] = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

async function call(name: string, headers: Record<string, string> = {}): Promise<void> {
  const response = await fetch(bases[name]!, { headers });
  expect(response.status).toBe(200);
  await response.text();
}

let families: PromFamily[];
let scrapedText: string;

beforeAll(async () => {
  const port = await freePort();
  handle = init({
    serviceName: 'recording',
    exporters: [spans],
    exportQueue: { scheduledDelayMillis: 10 },
    metrics: { exporters: ['prometheus'], prometheusPort: port, prices: PRICES, cardinalityLimit: 5 },
  });
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  await waitForEndpoint(metricsUrl);
  await serve('trust', { trust: 'trust', signingKey: null });
  await serve('signed', { trust: 'trust', signingKey: KEY });
  await serve('link', { trust: 'link', signingKey: null });
  await serve('ignore', { trust: 'ignore' });

  // Propagation health over HTTP.
  await call('trust'); // nothing arrives
  await call('trust', { traceparent: '00-zz-not-a-traceparent' }); // malformed: discarded, nothing else
  await call('trust', { traceparent: `00-${OTHER_TRACE}-${PARENT}-01` }); // a trace, no session
  await call('trust', { traceparent: `00-${SESSION}-${PARENT}-01`, baggage: `agentops.session.id=${SESSION}` }); // session, its own trace
  await call('trust', { baggage: `agentops.session.id=${SESSION}` }); // session only: rejoins its root
  await call('signed', { traceparent: `00-${SESSION}-${PARENT}-01`, baggage: `agentops.session.id=${SESSION}` }); // unsigned under a key
  await call('signed', { baggage: `agentops.session.id=${SESSION}` }); // unsigned, no traceparent
  await call('link', { traceparent: `00-${OTHER_TRACE}-${PARENT}-01` });
  await call('link', { baggage: `agentops.session.id=${SESSION}` }); // an entry link takes none of
  await call('ignore', { traceparent: `00-${SESSION}-${PARENT}-01`, baggage: `agentops.session.id=${SESSION}` });

  // A hop that starts in a context holding an entry another instrumentation's extract put there.
  const unvetted = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ 'agentops.session.id': { value: SESSION } }));
  startInboundHop({
    carrier: {},
    getter: kafkaHeaderGetter,
    spanName: 'process custom',
    kind: SpanKind.CONSUMER,
    attributes: { 'messaging.system': 'custom-queue', 'messaging.operation.type': 'process', 'messaging.operation.name': 'handle' },
    trust: 'trust',
    parentContext: unvetted,
  }).end();

  // Eight tool names under a limit of five; the entity names beyond it become _OTHER.
  for (const name of ['t1', 't2', 't3', 't4', 't5', 't6', 't7', 't8']) withTool(name, () => undefined);

  // Usage on a span of the application's own (not withLlmCall): measured at once. A reported cost wins over the table.
  const own = tracer().startSpan('chat own-model', {
    attributes: { 'gen_ai.request.model': 'gpt-4o-2024-08-06', 'gen_ai.provider.name': 'openai', 'gen_ai.operation.name': 'chat' },
  });
  recordLlmUsage(own, { promptTokens: 10, completionTokens: 5, costUsd: 0.125 });
  own.end();

  await workload();
  await handle.forceFlush();
  const scraped = await scrape(metricsUrl);
  families = scraped.families;
  scrapedText = scraped.text;
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  await handle.shutdown();
  metrics.disable();
  trace.disable();
  context.disable();
  propagation.disable();
});

describe('propagation health', () => {
  it('counts each inbound decision by transport, trust, shape and outcome', () => {
    const decisions = family(families, 'agentops_propagation_inbound_decisions_total');
    const counted = decisions.samples
      .map(
        (s) =>
          `${s.labels.agentops_hop_transport} ${s.labels.agentops_hop_trust} ${s.labels.agentops_hop_shape} ${s.labels.agentops_propagation_outcome} = ${s.value}`,
      )
      .sort();
    expect(counted).toEqual(
      [
        'custom-queue trust root none = 1',
        'http ignore root refused = 1',
        'http link root bad_signature = 1',
        'http link root linked = 1',
        'http link root refused = 1',
        'http trust parent accepted = 1',
        'http trust parent continued = 1',
        'http trust rejoin accepted = 1',
        'http trust root bad_signature = 1',
        'http trust root none = 2',
      ].sort(),
    );
  });

  it('counts what hops discarded: a malformed header, an unvetted entry in the context', () => {
    const discarded = family(families, 'agentops_propagation_inbound_discarded_total');
    expect(
      discarded.samples.map((s) => `${s.labels.agentops_hop_transport} ${s.labels.agentops_propagation_reason} = ${s.value}`).sort(),
    ).toEqual(['custom-queue unvetted_entry = 1', 'http malformed_or_over_limits = 1']);
  });

  it('measures the processing of a messaging hop by the conventions (messaging.process.duration)', () => {
    const processed = family(families, 'messaging_process_duration');
    expect(processed.samples.map((s) => [s.labels.messaging_system, s.labels.messaging_operation_name, s.count])).toEqual([
      ['custom-queue', 'handle', 1],
    ]);
  });
});

describe('cardinality', () => {
  it('keeps the first cardinalityLimit entity names and records the rest as _OTHER', () => {
    const tools = series(family(families, 'agentops_entity_duration'), { agentops_span_kind: 'tool' });
    const byName = Object.fromEntries(tools.map((s) => [`${s.labels.agentops_entity_name}/${s.labels.agentops_outcome}`, s.count]));
    expect(byName).toEqual({
      't1/success': 1,
      't2/success': 1,
      't3/success': 1,
      't4/success': 1,
      't5/success': 1,
      '_OTHER/success': 3 + 1,
      '_OTHER/error': 1,
    });
  });

  it('no label carries a session, trace or span id, or any value a caller sent', () => {
    const labelKeys = new Set<string>();
    // target_info is the resource (host.id is the machine's), not a measurement.
    for (const f of families.filter((f) => f.name !== 'target_info')) {
      for (const s of f.samples) {
        for (const [key, value] of Object.entries(s.labels)) {
          labelKeys.add(key);
          expect(value, `${f.name} ${key}`).not.toMatch(/^[0-9a-f]{16}$|^[0-9a-f]{32}$/);
        }
      }
    }
    expect(scrapedText).not.toContain(SESSION);
    expect(scrapedText).not.toContain(OTHER_TRACE);
    for (const key of labelKeys) {
      expect(
        [
          'agentops_agent_name',
          'agentops_entity_name',
          'agentops_hop_shape',
          'agentops_hop_transport',
          'agentops_hop_trust',
          'agentops_llm_pricing',
          'agentops_outcome',
          'agentops_propagation_outcome',
          'agentops_propagation_reason',
          'agentops_session_end_state',
          'agentops_span_kind',
          'error_type',
          'gen_ai_operation_name',
          'gen_ai_provider_name',
          'gen_ai_request_model',
          'gen_ai_response_model',
          'gen_ai_token_type',
          'messaging_operation_name',
          'messaging_system',
          'otel_scope_name',
          'otel_scope_version',
          'otel_scope_schema_url',
        ],
        key,
      ).toContain(key);
    }
  });
});

describe('LLM usage and cost', () => {
  it('usage on a span of the application: measured at once, with the cost the call reported (pricing caller)', () => {
    const cost = family(families, 'agentops_llm_cost_total');
    expect(cost.samples.map((s) => [s.labels.agentops_llm_pricing, s.labels.gen_ai_request_model, s.value]).sort()).toEqual([
      ['caller', 'gpt-4o-2024-08-06', 0.125],
      ['price_table', 'gpt-4o', PRICED_COST],
    ]);
    const tokens = family(families, 'gen_ai_client_token_usage');
    expect(series(tokens, { gen_ai_request_model: 'gpt-4o-2024-08-06', gen_ai_token_type: 'input' }).map((s) => [s.count, s.sum])).toEqual([
      [1, 10],
    ]);
  });

  it('spans carry tokens under both names, the provider under both names, cached tokens and the cost: what per-session totals are summed from', () => {
    const llm = spans
      .getFinishedSpans()
      .filter((s) => s.attributes['agentops.span.kind'] === 'llm' && s.attributes['gen_ai.request.model'] === 'gpt-4o');
    expect(llm).toHaveLength(1);
    expect(llm[0]!.attributes).toMatchObject({
      'gen_ai.usage.prompt_tokens': 1000,
      'gen_ai.usage.input_tokens': 1000,
      'gen_ai.usage.completion_tokens': 250,
      'gen_ai.usage.output_tokens': 250,
      'gen_ai.usage.cache_read.input_tokens': 200,
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.system': 'openai',
      'gen_ai.provider.name': 'openai',
      'agentops.llm.cost.usd': PRICED_COST,
    });
    const unpriced = spans.getFinishedSpans().filter((s) => s.attributes['gen_ai.request.model'] === 'local-llama');
    expect(unpriced.map((s) => s.attributes['agentops.llm.cost.usd'])).toEqual([undefined]);
  });
});
