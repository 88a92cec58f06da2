import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureChromium } from '../../scripts/chromium.mjs';
import { ensureJaeger, type JaegerHandle } from '../../scripts/jaeger.mjs';
import { getTrace, linksOf, parentOf, serviceOf, tag, tracesClaiming } from './jaeger-api.js';
import { layoutProblems, measureView } from './session-view.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SERVICES = ['gateway', 'planner', 'researcher', 'writer'];

let jaeger: JaegerHandle;
let chromium: string;
let scratch: string;

// The Jaeger `services up` started (CI), or one started here, built first on a fresh machine.
beforeAll(async () => {
  [jaeger, chromium] = await Promise.all([ensureJaeger({ log: (m) => console.log(`[jaeger] ${m}`) }), ensureChromium()]);
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'agentops-demo-'));
}, 1_200_000);

afterAll(async () => {
  await jaeger?.stop();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

/** The demo is a user-facing command: run it exactly as a user would, in its own process. */
function runDemo(env: NodeJS.ProcessEnv) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'examples/agents/demo.ts'], {
    cwd: root,
    env: { ...process.env, JAEGER_URL: jaeger.url, JAEGER_OTLP_URL: jaeger.otlpUrl, ...env },
    encoding: 'utf8',
    timeout: 240_000,
  });
  const output = `${run.stdout}\n${run.stderr}`;
  const sessions = [...output.matchAll(/^ {2}session ([0-9a-f]{32}): \d+ sub-tasks$/gm)].map((m) => m[1]!);
  return { status: run.status, output, sessions };
}

describe('npm run demo (the main job), against Jaeger', () => {
  it('runs four services; Jaeger holds each session as one whole trace; the session view draws it', async () => {
    const view = path.join(scratch, 'sessions.html');
    const { status, output, sessions } = runDemo({ DEMO_SESSIONS: '4', DEMO_VIEW_PATH: view });
    expect(status, output).toBe(0);
    expect(output).toContain(`read back from Jaeger at ${jaeger.url}`);
    const trees = output.match(/^session [0-9a-f]{32}: \d+ spans \(gateway \d+, planner \d+, researcher \d+, writer \d+\)$/gm) ?? [];
    expect(trees, output).toHaveLength(4);
    expect(output).toContain('✓ 4 sessions whole across 4 services');
    expect(output).toMatch(/\[Kafka\] process agentops-demo\.research-tasks/);
    expect(output).toMatch(/\[BullMQ\] process agentops-demo-writer/);
    expect(output).toMatch(/\[HTTP\] POST \/reports/);
    expect(output).toContain(`session view: file://${view}`);
    expect(sessions).toHaveLength(4);

    // Tokens and cost per session, summed from its LLM spans: 3 sub-tasks give 1 gateway, 1
    // planner, 3 researcher, 3 writer and 3 critic calls; critic-mini has no price.
    const perSession = [
      ...output.matchAll(
        /^ {2}session ([0-9a-f]{32}): 11 LLM calls, (\d+) tokens \(in (\d+), out (\d+)\), \$([0-9.]+) \+ 3 unpriced calls$/gm,
      ),
    ];
    expect(perSession.map((m) => m[1]).sort(), output).toEqual([...sessions].sort());
    // Per agent and model, scraped from each service's Prometheus endpoint: the same calls and tokens.
    const rows = [...output.matchAll(/^ {4}(\w+) +(\w+) +([\w-]+) +(\d+) calls {2}in +(\d+) {2}out +(\d+) {2}(unpriced|\$[0-9.]+)$/gm)];
    expect(rows.map((m) => [m[1], m[2], m[3], Number(m[4]), m[7] === 'unpriced'])).toEqual([
      ['gateway', 'critic', 'critic-mini', 12, true],
      ['gateway', 'gateway', 'gateway-mini', 4, false],
      ['planner', 'planner', 'planner-large', 4, false],
      ['researcher', 'researcher', 'researcher-large', 12, false],
      ['writer', 'writer', 'writer-large', 12, false],
    ]);
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    expect(sum(rows.map((m) => Number(m[5]) + Number(m[6])))).toBe(sum(perSession.map((m) => Number(m[2]))));
    const scrapedCost = sum(rows.filter((m) => m[7] !== 'unpriced').map((m) => Number(m[7]!.slice(1))));
    expect(Math.abs(scrapedCost - sum(perSession.map((m) => Number(m[5]))))).toBeLessThan(1e-5); // printed to 6 decimals
    expect(output).toMatch(/^ {4}bullmq {2}agentops-demo-writer +12 deliveries, mean \d+\.\d ms$/m);
    expect(output).toMatch(/^ {4}kafka {3}agentops-demo\.research-tasks +12 deliveries, mean \d+\.\d ms$/m);

    const { errors, sessions: drawn } = await measureView(chromium, view);
    expect(errors).toEqual([]);
    expect(drawn.map((d) => d.id).sort()).toEqual([...sessions].sort());

    for (const id of sessions) {
      expect(output).toContain(`trace ${jaeger.url}/`);
      const traces = await getTrace(jaeger.url, id);
      expect(traces, `session ${id}`).toHaveLength(1);
      const trace = traces[0]!;
      const spanIds = new Set(trace.spans.map((s) => s.spanID));
      expect(new Set(trace.spans.map((s) => serviceOf(trace, s)))).toEqual(new Set(SERVICES));
      expect(
        trace.spans.filter((s) => parentOf(s) === undefined),
        'one root',
      ).toHaveLength(1);
      for (const span of trace.spans) {
        const parent = parentOf(span);
        if (parent !== undefined) expect(spanIds.has(parent), `orphan ${span.operationName}`).toBe(true);
        expect(tag(span, 'agentops.session.id'), span.operationName).toBe(id);
        expect(tag(span, 'session.id'), span.operationName).toBe(id);
      }
      // One trace per session: no service has a span claiming the session from another trace.
      for (const service of SERVICES) expect(await tracesClaiming(jaeger.url, service, id)).toEqual([id]);
      // The rejoined Kafka consumers link to their producer: the view must draw those links.
      expect(trace.spans.some((s) => linksOf(s).length > 0)).toBe(true);

      const session = drawn.find((d) => d.id === id)!;
      expect(layoutProblems(trace, session), `session view of ${id}`).toEqual([]);
    }
  }, 300_000);

  it('fails with a non-zero exit, and Jaeger shows the session broken, when a hop drops it', async () => {
    // DEMO_BREAK_HOP makes the writer drop the session on its callback: the check must catch it.
    const { status, output, sessions } = runDemo({
      DEMO_SESSIONS: '1',
      DEMO_BREAK_HOP: 'writer-callback',
      DEMO_VIEW_PATH: path.join(scratch, 'broken.html'),
    });
    expect(status, output).not.toBe(0);
    expect(output).toMatch(/✗ \d+ problem\(s\)/);
    expect(sessions).toHaveLength(1);
    const [trace] = await getTrace(jaeger.url, sessions[0]!);
    // The gateway's handling of the writer's report (the critic) landed outside the session trace.
    expect(trace!.spans.filter((s) => s.operationName === 'critic.agent')).toHaveLength(0);
  }, 300_000);
});
