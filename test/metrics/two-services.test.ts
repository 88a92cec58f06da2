// Two services, each its own process, in one session: the gateway (Express) starts it, calls an
// LLM and the worker over HTTP, then hands the worker a Kafka message and a BullMQ job; the worker
// runs an agent with an LLM call for each. Every measurement is read twice, from the real
// exporters: scraped from each service's Prometheus endpoint (one loopback port per service, as
// a Prometheus server would) and parsed by the Prometheus project's parser, and received over
// OTLP/HTTP (the gateway sends protobuf, the worker JSON) by a receiver that decodes both. The
// values are exact: token sums, calls by pricing, cost from the price table, counts by outcome,
// inbound decisions per transport, one wait per Kafka message and BullMQ job.

import type { ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScript } from '../helpers/child.js';
import { kafkaBrokers, redisUrl } from '../services/env.js';
import { otlpMetricsReceiver, type MetricsReceiver, type ReceivedPoint } from './otlp-metrics-receiver.js';
import { family, promparse, scrape, series, waitForEndpoint, type PromFamily } from './prometheus.js';

const RUN = `metrics-${process.pid}-${Date.now()}`;
const TOPIC = `${RUN}.tasks`;
const QUEUE = `${RUN}-jobs`;
const COST = {
  gateway: (800 * 2.5 + 200 * 1.25 + 250 * 10) / 1_000_000,
  miniHttp: (3000 * 0.15 + 500 * 0.6) / 1_000_000,
  kafka: (400 * 2.5 + 100 * 10) / 1_000_000,
};

interface Service {
  name: string;
  child: ChildProcess;
  output: string[];
  metricsUrl: string;
}

let receiver: MetricsReceiver;
const services: Record<string, Service> = {};
let sessionId: string;
const scraped: Record<string, { text: string; families: PromFamily[] }> = {};

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

async function waitForLine(service: Service, line: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!service.output.join('').includes(line)) {
    if (service.child.exitCode !== null) throw new Error(`${service.name} exited:\n${service.output.join('')}`);
    if (Date.now() > deadline) throw new Error(`${service.name} never printed ${line}:\n${service.output.join('')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function start(name: string, env: NodeJS.ProcessEnv): Promise<Service> {
  const prometheusPort = await freePort();
  const child = startScript(`test/metrics/services/${name}.ts`, [], {
    env: { ...env, OTEL_EXPORTER_PROMETHEUS_PORT: String(prometheusPort), OTEL_METRIC_EXPORT_INTERVAL: '3600000' },
  });
  const output: string[] = [];
  child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const service = { name, child, output, metricsUrl: `http://127.0.0.1:${prometheusPort}/metrics` };
  services[name] = service;
  await waitForLine(service, `READY ${name}`);
  await waitForEndpoint(service.metricsUrl);
  return service;
}

async function stop(service: Service | undefined): Promise<void> {
  if (service === undefined || service.child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => service.child.once('exit', () => resolve()));
  service.child.kill('SIGTERM');
  await exited;
}

beforeAll(async () => {
  promparse();
  receiver = await otlpMetricsReceiver();
  const admin = new Kafka({ clientId: 'metrics-admin', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, numPartitions: 1 }] });
  await admin.disconnect();
  const [gatewayPort, workerPort] = [await freePort(), await freePort()];
  const common: NodeJS.ProcessEnv = {
    KAFKA_BROKERS: kafkaBrokers().join(','),
    REDIS_URL: redisUrl(),
    TOPIC,
    QUEUE,
    WORKER_URL: `http://127.0.0.1:${workerPort}`,
    AGENTOPS_SIGNING_KEY: 'metrics-test-signing-key-0123456789',
    OTEL_METRICS_EXPORTER: 'otlp,prometheus',
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.url,
    AGENTOPS_PROPAGATION_NO_INIT_WARNING: '1',
  };
  await start('worker', { ...common, PORT: String(workerPort), OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json' });
  await start('gateway', { ...common, PORT: String(gatewayPort), OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf' });

  const response = await fetch(`http://127.0.0.1:${gatewayPort}/run`, { method: 'POST' });
  expect(response.status).toBe(200);
  sessionId = ((await response.json()) as { sessionId: string }).sessionId;
  await waitForLine(services.worker!, 'DONE kafka');
  await waitForLine(services.worker!, 'DONE bullmq');
  for (const name of ['gateway', 'worker']) scraped[name] = await scrape(services[name]!.metricsUrl);
  // Stopping flushes each service's measurements over OTLP, within init's deadline.
  await Promise.all([stop(services.gateway), stop(services.worker)]);
}, 240_000);

afterAll(async () => {
  await Promise.all([stop(services.gateway), stop(services.worker)]);
  await receiver?.close();
});

/** Orders rows by their JSON text, code unit by code unit. */
function byJson(a: unknown, b: unknown): number {
  const [x, y] = [JSON.stringify(a), JSON.stringify(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Prometheus series of `name` in `service`, as `[labels picked, value]`. */
function promValues(service: string, name: string, pick: string[], labels: Record<string, string> = {}): unknown[][] {
  return series(family(scraped[service]!.families, name), labels)
    .map((s) => [...pick.map((k) => s.labels[k]), s.value ?? [s.count, s.sum]])
    .sort(byJson);
}

/** OTLP points of `metric` from `service`, the last export of each series (cumulative). */
function otlpPoints(service: string, metric: string): ReceivedPoint[] {
  const latest = new Map<string, ReceivedPoint>();
  for (const p of receiver.points()) {
    if (p.metric !== metric || p.resource['service.name'] !== service) continue;
    latest.set(JSON.stringify(p.attributes), p);
  }
  return [...latest.values()];
}

describe('two services in one session, read from Prometheus and from OTLP', () => {
  it('tokens: gen_ai.client.token.usage sums per service, model and token type', () => {
    const pick = ['gen_ai_request_model', 'gen_ai_token_type'];
    expect(promValues('gateway', 'gen_ai_client_token_usage', pick)).toEqual([
      ['gpt-4o', 'input', [1, 1000]],
      ['gpt-4o', 'output', [1, 250]],
    ]);
    expect(promValues('worker', 'gen_ai_client_token_usage', pick)).toEqual([
      ['gpt-4o', 'input', [1, 400]],
      ['gpt-4o', 'output', [1, 100]],
      ['gpt-4o-mini', 'input', [1, 3000]],
      ['gpt-4o-mini', 'output', [1, 500]],
      ['local-llama', 'input', [1, 64]],
      ['local-llama', 'output', [1, 16]],
    ]);
    const otlp = (service: string) =>
      otlpPoints(service, 'gen_ai.client.token.usage')
        .map((p) => [p.attributes['gen_ai.request.model'], p.attributes['gen_ai.token.type'], [p.count, p.sum]])
        .sort(byJson);
    expect(otlp('gateway')).toEqual(promValues('gateway', 'gen_ai_client_token_usage', pick));
    expect(otlp('worker')).toEqual(promValues('worker', 'gen_ai_client_token_usage', pick));
  });

  it('cost from the price table; the unpriced model counted as such, never priced', () => {
    const pick = ['gen_ai_request_model', 'agentops_llm_pricing'];
    expect(promValues('gateway', 'agentops_llm_cost_total', pick)).toEqual([['gpt-4o', 'price_table', COST.gateway]]);
    expect(promValues('worker', 'agentops_llm_cost_total', pick)).toEqual([
      ['gpt-4o', 'price_table', COST.kafka],
      ['gpt-4o-mini', 'price_table', COST.miniHttp],
    ]);
    expect(promValues('worker', 'agentops_llm_calls_total', pick)).toEqual([
      ['gpt-4o', 'price_table', 1],
      ['gpt-4o-mini', 'price_table', 1],
      ['local-llama', 'unpriced', 1],
    ]);
    const otlpCost = otlpPoints('worker', 'agentops.llm.cost')
      .map((p) => [p.attributes['gen_ai.request.model'], p.attributes['agentops.llm.pricing'], p.value])
      .sort(byJson);
    expect(otlpCost).toEqual(promValues('worker', 'agentops_llm_cost_total', pick));
  });

  it('tokens, calls and cost by the agent each call ran in', () => {
    expect(promValues('worker', 'agentops_llm_tokens_total', ['agentops_agent_name', 'gen_ai_request_model', 'gen_ai_token_type'])).toEqual(
      [
        ['researcher', 'gpt-4o-mini', 'input', 3000],
        ['researcher', 'gpt-4o-mini', 'output', 500],
        ['summarizer', 'gpt-4o', 'input', 400],
        ['summarizer', 'gpt-4o', 'output', 100],
        ['writer', 'local-llama', 'input', 64],
        ['writer', 'local-llama', 'output', 16],
      ],
    );
    expect(promValues('gateway', 'agentops_llm_cost_total', ['agentops_agent_name'])).toEqual([['gateway', COST.gateway]]);
  });

  it('agents and tools by name and outcome; the session by end state', () => {
    expect(
      promValues('worker', 'agentops_entity_duration', ['agentops_span_kind', 'agentops_entity_name', 'agentops_outcome', 'error_type']),
    ).toEqual([
      ['agent', 'researcher', 'success', undefined, [1, expect.any(Number)]],
      ['agent', 'summarizer', 'success', undefined, [1, expect.any(Number)]],
      ['agent', 'writer', 'success', undefined, [1, expect.any(Number)]],
      ['tool', 'search', 'error', 'ToolFailure', [1, expect.any(Number)]],
      ['tool', 'search', 'success', undefined, [1, expect.any(Number)]],
    ]);
    expect(
      promValues('gateway', 'agentops_session_duration', ['agentops_session_end_state', 'agentops_entity_name']).map((v) => [
        v[0],
        v[1],
        (v[2] as number[])[0],
      ]),
    ).toEqual([['Success', 'research', 1]]);
  });

  it('propagation health per transport: every hop of the session accepted, the session-less request counted as none', () => {
    const pick = ['agentops_hop_transport', 'agentops_hop_trust', 'agentops_hop_shape', 'agentops_propagation_outcome'];
    expect(promValues('gateway', 'agentops_propagation_inbound_decisions_total', pick)).toEqual([['http', 'trust', 'root', 'none', 1]]);
    expect(promValues('worker', 'agentops_propagation_inbound_decisions_total', pick)).toEqual([
      ['bullmq', 'trust', 'parent', 'accepted', 1],
      ['http', 'trust', 'parent', 'accepted', 1],
      ['kafka', 'trust', 'parent', 'accepted', 1],
    ]);
  });

  it('wait between the producer hop and the consumer hop: one per Kafka message (CreateTime) and BullMQ job (first attempt)', () => {
    const waits = series(family(scraped.worker!.families, 'agentops_messaging_wait_duration'), {});
    expect(
      waits
        .map((s) => [
          s.labels.messaging_system,
          s.labels.messaging_destination_name,
          s.labels.agentops_wait_clock,
          s.labels.agentops_wait_attempt,
          s.labels.agentops_wait_skewed,
          s.count,
        ])
        .sort(),
    ).toEqual([
      ['bullmq', QUEUE, 'job_timestamp', 'first', undefined, 1],
      ['kafka', TOPIC, 'create_time', undefined, undefined, 1],
    ]);
    for (const s of waits) expect(s.sum).toBeGreaterThanOrEqual(0);
    expect(
      promValues('worker', 'messaging_client_consumed_messages_total', ['messaging_system', 'messaging_destination_name']).sort(),
    ).toEqual([
      ['bullmq', QUEUE, 1],
      ['kafka', TOPIC, 1],
    ]);
  });

  it('no attribute carries the session id, a trace or span id, a job id or a message key', () => {
    for (const name of ['gateway', 'worker']) {
      expect(scraped[name]!.text).not.toContain(sessionId);
      for (const f of scraped[name]!.families.filter((f) => f.name !== 'target_info')) {
        for (const s of f.samples)
          for (const value of Object.values(s.labels)) expect(value).not.toMatch(/^[0-9a-f]{16}$|^[0-9a-f]{32}$|^\d+$/);
      }
    }
    for (const p of receiver.points())
      for (const value of Object.values(p.attributes)) expect(String(value)).not.toMatch(/^[0-9a-f]{16}$|^[0-9a-f]{32}$/);
  });

  it('OTLP: the gateway sent protobuf and the worker JSON, each with its own service.name', () => {
    const byService = new Map<unknown, Set<string | undefined>>();
    for (const r of receiver.requests) {
      for (const p of r.points) {
        const set = byService.get(p.resource['service.name']) ?? new Set();
        set.add(r.contentType);
        byService.set(p.resource['service.name'], set);
      }
    }
    expect(byService).toEqual(
      new Map([
        ['gateway', new Set(['application/x-protobuf'])],
        ['worker', new Set(['application/json'])],
      ]),
    );
  });
});
