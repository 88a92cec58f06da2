// NodeSDK with @opentelemetry/auto-instrumentations-node and this library's adapters, run as a
// user runs examples/otel-setup (its own process: the auto-instrumentations patch modules through
// require hooks). Two real OTLP receivers stand in for AgentOps and the user's own collector.
// Checked: the session is intact over HTTP and Kafka (one trace, session.id on every span, the
// consumer ran in the session), no doubled SERVER or CONSUMER span, the AgentOps token goes to
// AgentOps only, and the user's collector gets the same spans.

import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/child.js';
import { kafkaBrokers } from '../services/env.js';
import { otlpReceiver, type Receiver } from './otlp-receiver.js';

const SERVER = 2;
const CLIENT = 3;
const CONSUMER = 5;

const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

function runExample(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/otel-setup/main.ts'], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('NodeSDK + auto-instrumentations-node + agentOpsSpanProcessors (examples/otel-setup)', () => {
  it('keeps the session whole over HTTP and Kafka, without doubled spans, in both backends', async () => {
    const agentops = await otlpReceiver({ issueToken: () => 'tok-sdk' });
    const mine = await otlpReceiver();
    receivers.push(agentops, mine);
    const run = await runExample({
      KAFKA_BROKERS: kafkaBrokers().join(','),
      AGENTOPS_API_KEY: 'key-sdk',
      AGENTOPS_API_ENDPOINT: agentops.base,
      AGENTOPS_EXPORTER_ENDPOINT: agentops.url,
      MY_COLLECTOR_URL: mine.url,
      // The user's collector settings must not send AgentOps' spans (and token) there.
      OTEL_EXPORTER_OTLP_ENDPOINT: mine.base,
    });
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
      session: string;
      topic: string;
      server: { session: string };
      consumer: { session: string } | null;
    };
    expect(summary.server.session).toBe(summary.session);
    expect(summary.consumer?.session).toBe(summary.session);
    expect(run.stderr).not.toMatch(/global propagator is not agentops-propagation's/);

    for (const backend of [agentops, mine]) {
      const spans = backend.spans().filter((s) => s.traceId === summary.session);
      const kinds = spans.map((s) => `${s.name}`);
      // Every span of the session's trace carries the session, except the spans
      // instrumentation-express opens around the middleware that runs before the session is
      // vetted (sessionMiddleware's own layer and express' built-in one): they are in the
      // session's trace but started before it was bound. Known gap, reported.
      const unstamped = spans.filter((s) => s.attributes['session.id'] !== summary.session).map((s) => s.name);
      expect(unstamped.filter((name) => !name.startsWith('middleware - '))).toEqual([]);
      expect(unstamped.length).toBeLessThanOrEqual(2);
      // One span of each kind per hop: instrumentation-http's SERVER span adopted by
      // sessionMiddleware, instrumentation-kafkajs' CONSUMER span adopted by instrumentConsumer,
      // sessionFetch's CLIENT span (undici's suppressed under it).
      const ofKind = (kind: number) => spans.filter((s) => s.kind === kind).map((s) => s.name);
      expect(ofKind(SERVER), kinds.join(', ')).toHaveLength(1);
      expect(ofKind(CONSUMER), kinds.join(', ')).toEqual([`process ${summary.topic}`]);
      expect(ofKind(CLIENT), kinds.join(', ')).toHaveLength(1);
      expect(spans.filter((s) => s.name === 'otel-setup.session')).toHaveLength(1);
    }
    expect(agentops.requests.every((r) => r.headers.authorization === 'Bearer tok-sdk')).toBe(true);
    expect(mine.requests.some((r) => r.headers.authorization !== undefined)).toBe(false);
  });
});
