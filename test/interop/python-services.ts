/**
 * The Python side of the interop tests: services on the stock OpenTelemetry Python SDK
 * (test/interop/python/*.py), run with the interpreter of the project's virtual environment
 * (scripts/python.mjs), and the TypeScript endpoints they call back.
 *
 * A Python service prints one JSON object per stdout line: `{"ready": {...}}` once it can take
 * work, then `{"span": {...}}` for each span it finished. The test starts it in `beforeAll`, waits
 * for the ready line, reads its spans, and stops it in `afterAll`.
 */
import { waitFor } from '../kafka/helpers.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { trace } from '@opentelemetry/api';
import express from 'express';
import Fastify from 'fastify';
import { sessionMiddleware, type SessionMiddlewareOptions } from '../../adapters/express/index.js';
import { sessionPlugin, type SessionPluginOptions } from '../../adapters/fastify/index.js';
import { getSessionId } from '../../src/index.js';
import { ensurePythonEnv } from '../../scripts/python.mjs';
import { listen } from '../http/helpers.js';

const PYTHON_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'python');

/** A span a Python service finished, as its exporter reported it (ids in W3C hex). */
export interface PythonSpan {
  name: string;
  kind: 'INTERNAL' | 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER';
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  parentTraceId: string | null;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
}

/** A running Python service. */
export class PythonService {
  /** Every span the service reported so far, in the order it finished them. */
  readonly spans: PythonSpan[] = [];
  /** What the service's ready line said (e.g. `{ port }`); set once it printed it. */
  ready: Record<string, unknown> = {};
  private stderr = '';
  private readonly readyLine: Promise<Record<string, unknown>>;

  private constructor(
    readonly script: string,
    private readonly child: ChildProcess,
  ) {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.readyLine = new Promise((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let parsed: { ready?: Record<string, unknown>; span?: PythonSpan };
        try {
          parsed = JSON.parse(line) as typeof parsed;
        } catch {
          this.stderr += `(stdout, not JSON) ${line}\n`;
          return;
        }
        if (parsed.ready !== undefined) resolve(parsed.ready);
        if (parsed.span !== undefined) this.spans.push(parsed.span);
      });
      child.once('error', reject);
      // After the ready line this rejects a settled promise: nothing happens.
      child.once('exit', (code, signal) =>
        reject(new Error(`${script} exited before it was ready (code ${code}, signal ${signal}):\n${this.stderr}`)),
      );
    });
  }

  /**
   * Starts `python/<script> ...args` with the environment's interpreter and resolves once it
   * printed its ready line. OTEL_* variables of the test's environment are not passed on: the
   * service runs the SDK's defaults (tracecontext and baggage propagators).
   */
  static async start(script: string, args: string[] = [], env: Record<string, string> = {}): Promise<PythonService> {
    const { python } = await ensurePythonEnv({ log: (message) => console.log(`[python] ${message}`) });
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OTEL_')));
    const child = spawn(python, [path.join(PYTHON_DIR, script), ...args], {
      cwd: PYTHON_DIR,
      // No __pycache__ in the source tree; stdout unbuffered so that every span line arrives at once.
      env: { ...inherited, ...env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
      // stdin stays open while the test runs: the service exits when it closes (reporting.py).
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const service = new PythonService(script, child);
    try {
      service.ready = await withDeadline(service.readyLine, 90_000, `${script} to print its ready line`);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    return service;
  }

  /** The service's URL, for one that printed a port. */
  get url(): string {
    return `http://127.0.0.1:${String(this.ready.port)}`;
  }

  /** What the service wrote on stderr (its tracebacks), for failure messages. */
  get errors(): string {
    return this.stderr;
  }

  /** The reported span with this span id. */
  span(spanId: string): PythonSpan {
    const found = this.spans.filter((s) => s.spanId === spanId);
    if (found.length !== 1) throw new Error(`${this.script}: expected one span ${spanId}, found ${found.length}`);
    return found[0]!;
  }

  /** Waits until the service reported `count` spans matching `predicate`, and returns them. */
  async spansWhere(what: string, predicate: (span: PythonSpan) => boolean, count: number): Promise<PythonSpan[]> {
    try {
      return await waitFor(`${this.script}: ${count} ${what}`, () => {
        const found = this.spans.filter(predicate);
        return found.length >= count ? found : undefined;
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- stderr of ${this.script}\n${this.stderr}`, { cause: err });
    }
  }

  /** Stops the process (SIGTERM, SIGKILL after 5 s). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000}s waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a TypeScript endpoint saw of one request: the session and its own span. */
export interface EndpointAnswer {
  sessionId: string | null;
  traceId: string;
  spanId: string;
}

/** A TypeScript service a Python service calls back: `POST /end` answers {@link EndpointAnswer}. */
export interface TsEndpoint {
  framework: 'express' | 'fastify';
  url: string;
  close(): Promise<void>;
}

function answer(): EndpointAnswer {
  const span = trace.getActiveSpan()!.spanContext();
  return { sessionId: getSessionId() ?? null, traceId: span.traceId, spanId: span.spanId };
}

/** An Express 5 app with `sessionMiddleware(options)` and `POST /end`. */
export async function startExpressEndpoint(options: SessionMiddlewareOptions = {}): Promise<TsEndpoint> {
  const app = express();
  app.use(sessionMiddleware(options));
  app.use(express.json());
  app.post('/end', (_req, res) => {
    res.json(answer());
  });
  const running = await listen(undefined, createServer(app));
  return { framework: 'express', url: `${running.url}/end`, close: running.close };
}

/** A Fastify 5 app with `sessionPlugin` (options) and `POST /end`. */
export async function startFastifyEndpoint(options: SessionPluginOptions = {}): Promise<TsEndpoint> {
  const app = Fastify();
  await app.register(sessionPlugin, options);
  app.post('/end', async () => answer());
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { framework: 'fastify', url: `${address}/end`, close: () => app.close() };
}

export { waitFor };
