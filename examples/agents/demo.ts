/**
 * `npm run demo`: starts what is not running (Kafka, Redis, the four agent services), runs
 * concurrent research sessions through gateway -> planner -> researcher -> writer -> gateway,
 * reads each session back from the trace backend (Jaeger when there is one, else its own OTLP
 * collector), prints it as a tree with its tokens and cost, then tokens, cost and waits scraped
 * from each service's Prometheus endpoint, and writes the session view (one HTML file). Exits non-zero
 * when any session's spans did not all land in its trace, so the demo doubles as an end-to-end
 * check.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { ensureKafka, type KafkaHandle } from '../../scripts/kafka.mjs';
import { ensureRedis, type RedisHandle } from '../../scripts/redis.mjs';
import { collectorBackend, jaegerBackend, type TraceBackend } from './backend.js';
import { renderMetrics, scrapeService, sessionUsage, type Sample } from './metrics-report.js';
import { viewSession, writeSessionView } from './session-view.js';
import { RESEARCH_TOPIC } from './shared.js';
import { checkSession, renderSessionTree } from './tree.js';

const SESSIONS = Number(process.env.DEMO_SESSIONS ?? 3);
const SUBTASKS = 3;
const SERVICES = ['gateway', 'planner', 'researcher', 'writer'];
const here = fileURLToPath(new URL('.', import.meta.url));
const VIEW_PATH = process.env.DEMO_VIEW_PATH ?? path.join(here, '..', '..', '.cache', 'demo', 'sessions.html');
const QUESTIONS = [
  'How do W3C traceparent and baggage keep one session across services?',
  'Which Kafka consumption styles break trace continuity, and why?',
  'How should a job queue keep retries inside the same trace?',
  'What makes inbound trace headers a security risk on public endpoints?',
  'How do sub-agents report back without losing the session?',
];

const say = (line: string) => process.stdout.write(`${line}\n`);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Service {
  name: string;
  child: ChildProcess;
  ready: Promise<void>;
  output: string[];
  /** Its Prometheus endpoint, on a loopback port of its own. */
  metricsUrl: string;
}

function startService(name: string, env: NodeJS.ProcessEnv, metricsPort: number): Service {
  const child = spawn(process.execPath, ['--import', 'tsx', `${here}${name}.ts`], {
    env: { ...env, METRICS_PORT: String(metricsPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready after 60 s:\n${output.join('')}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output.push(text);
      if (text.includes(`READY ${name}`)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before it was ready:\n${output.join('')}`));
    });
  });
  return { name, child, ready, output, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
}

async function stopService(service: Service): Promise<void> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => service.child.once('exit', () => resolve()));
  service.child.kill('SIGTERM');
  const timer = setTimeout(() => service.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Jaeger when there is one; otherwise the collector, saying how to get Jaeger next time. */
async function openBackend(): Promise<TraceBackend> {
  const jaeger = await jaegerBackend((m) => say(`  jaeger: ${m}`));
  if (jaeger !== undefined) return jaeger;
  say("  jaeger: none running or built, so the sessions are checked against the demo's own OTLP collector.");
  say('          For a real backend: `npm run services:up` (builds Jaeger v2 once with Go, ~4 min, then starts');
  say('          it with Kafka and Redis) or `docker compose up -d jaeger`, then run the demo again.');
  return collectorBackend();
}

/**
 * The services' environment. An OTEL_EXPORTER_OTLP_ENDPOINT naming the backend itself is dropped:
 * the services already export there, and Jaeger would store every span twice.
 */
function servicesEnv(backend: TraceBackend, extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra, DEMO_OTLP_URL: backend.otlpUrl };
  const same = (url: string | undefined) => url !== undefined && url.replace(/\/+$/, '').replace(/\/v1\/traces$/, '') === backend.otlpUrl;
  if (same(env.OTEL_EXPORTER_OTLP_ENDPOINT)) delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (same(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) delete env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const other = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (other) say(`  services also export to ${other}`);
  return env;
}

async function main(): Promise<number> {
  let kafka: KafkaHandle | undefined;
  let redis: RedisHandle | undefined;
  let backend: TraceBackend | undefined;
  const services: Service[] = [];
  try {
    say('▶ infrastructure');
    try {
      [kafka, redis] = await Promise.all([
        ensureKafka({ log: (m) => say(`  kafka: ${m}`) }),
        ensureRedis({ log: (m) => say(`  redis: ${m}`) }),
      ]);
      // After Kafka and Redis, so a failure there leaves no collector open behind the early return.
      backend = await openBackend();
    } catch (err) {
      say(`\n✗ the demo could not get the services it needs:\n  ${(err as Error).message}`);
      say('  Either install what is named above, or run `docker compose up -d` (see docker-compose.yml)');
      say('  and/or point KAFKA_BROKERS, REDIS_URL and JAEGER_URL at running servers.');
      return 2;
    }
    say(`  traces: OTLP/HTTP to ${backend.otlpUrl}/v1/traces, read back from ${backend.label}`);

    const admin = new Kafka({ clientId: 'demo-admin', brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: RESEARCH_TOPIC, numPartitions: 2 }] });
    await admin.disconnect();

    const [gatewayPort, plannerPort] = [await freePort(), await freePort()];
    const env = servicesEnv(backend, {
      KAFKA_BROKERS: kafka.brokers.join(','),
      REDIS_URL: redis.url,
      GATEWAY_PORT: String(gatewayPort),
      GATEWAY_URL: `http://127.0.0.1:${gatewayPort}`,
      PLANNER_PORT: String(plannerPort),
      PLANNER_URL: `http://127.0.0.1:${plannerPort}`,
    });
    say('▶ services: gateway (Express), planner (Fastify), researcher (kafkajs eachBatch), writer (BullMQ worker)');
    for (const name of ['writer', 'researcher', 'planner', 'gateway']) services.push(startService(name, env, await freePort()));
    await Promise.all(services.map((s) => s.ready));

    say(`▶ ${SESSIONS} concurrent sessions`);
    const gateway = env.GATEWAY_URL!;
    const started = await Promise.all(
      Array.from({ length: SESSIONS }, async (_, i) => {
        const response = await fetch(`${gateway}/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ question: QUESTIONS[i % QUESTIONS.length] }),
        });
        if (response.status !== 202) throw new Error(`gateway answered ${response.status}: ${await response.text()}`);
        return (await response.json()) as { sessionId: string; subtasks: number };
      }),
    );
    for (const s of started) say(`  session ${s.sessionId}: ${s.subtasks} sub-tasks`);
    await Promise.all(
      started.map((s) =>
        waitFor(`session ${s.sessionId} to finish`, 90_000, async () => {
          const status = (await (await fetch(`${gateway}/sessions/${s.sessionId}`)).json()) as { done: boolean };
          return status.done ? true : undefined;
        }),
      ),
    );

    // Scraped while the services run, as a Prometheus server would; then each service flushes its
    // spans over OTLP when it stops.
    const samples: Sample[] = (await Promise.all(services.map((s) => scrapeService(s.name, s.metricsUrl)))).flat();
    await Promise.all(services.map(stopService));
    const traces = backend; // a const, so the callbacks below see it narrowed
    const spans = await traces.read(
      started.map((s) => s.sessionId),
      SERVICES,
    );
    say(`▶ ${spans.length} spans read back from ${traces.label}\n`);

    let failed = 0;
    for (const s of started) {
      say(renderSessionTree(spans, s.sessionId));
      say(`  ${sessionUsage(spans, s.sessionId)}`);
      const problems = checkSession(spans, {
        sessionId: s.sessionId,
        services: SERVICES,
        counts: { 'researcher.agent': SUBTASKS, 'writer.agent': SUBTASKS, 'critic.agent': SUBTASKS, 'research.session': 1 },
      });
      if (problems.length === 0) say('  ✓ every span landed in the session trace, with session.id, no orphans\n');
      else {
        failed++;
        say(`  ✗ ${problems.length} problem(s):\n${problems.map((p) => `    - ${p}`).join('\n')}\n`);
      }
    }
    say(`▶ metrics (Prometheus endpoints: ${services.map((s) => `${s.name} ${s.metricsUrl}`).join(', ')})`);
    for (const line of renderMetrics(samples)) say(`  ${line}`);
    say('');
    const view = writeSessionView(
      VIEW_PATH,
      started.map((s) => viewSession(spans, s.sessionId, traces.traceUrl(s.sessionId))),
      traces.label,
    );
    say(`▶ session view: ${pathToFileURL(view).href}`);
    for (const s of started) {
      const url = traces.traceUrl(s.sessionId);
      if (url !== undefined) say(`  trace ${url}`);
    }
    say(failed === 0 ? `✓ ${started.length} sessions whole across 4 services` : `✗ ${failed} of ${started.length} sessions broken`);
    return failed === 0 ? 0 : 1;
  } catch (err) {
    say(`\n✗ demo failed: ${(err as Error).stack ?? String(err)}`);
    for (const s of services) if (s.output.length > 0) say(`--- ${s.name} output ---\n${s.output.join('').slice(-4000)}`);
    return 1;
  } finally {
    await Promise.all(services.map(stopService));
    await backend?.close();
    await kafka?.stop();
    await redis?.stop();
  }
}

process.exitCode = await main();
