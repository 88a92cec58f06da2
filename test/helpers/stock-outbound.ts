// A process with this library's init and the stock instrumentation-http/-undici (registered
// before or after init, sampled or not), sending requests to a "public host" (a loopback server
// reached as api.openai.com) and to internal ones. Prints what each server received, as raw
// header blocks: {"heads": {...}}. Order 'nodesdk': a NodeSDK application with the
// auto-instrumentations instead. Run by test/http/stock-outbound.test.ts.
import { createRequire } from 'node:module';
import type * as HttpModule from 'node:http';
import * as lib from '../../src/index.js';
import { rawServer } from './raw-server.js';
import { injectSessionHeaders, sessionFetch } from '../../adapters/http/index.js';

// CommonJS require for node:http, so that instrumentation-http's require hook patches it.
const require = createRequire(import.meta.url);
const [order = 'after', sampling = 'on'] = process.argv.slice(2);
const sampled = sampling === 'on';
const dns = require('node:dns') as typeof import('node:dns');
const { AlwaysOffSampler, AlwaysOnSampler, InMemorySpanExporter } = require('@opentelemetry/sdk-trace-base');

// fetch has no agent here (no npm undici): the process's DNS maps the public name to loopback.
const realLookup = dns.lookup;
(dns as { lookup: unknown }).lookup = (host: string, options: unknown, cb?: unknown) =>
  host === 'api.openai.com' ? realLookup('127.0.0.1', options as never, cb as never) : realLookup(host, options as never, cb as never);

function stock(): void {
  // Enabled on construction, with the global tracer provider (what registerInstrumentations does).
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
  const { UndiciInstrumentation } = require('@opentelemetry/instrumentation-undici');
  new HttpInstrumentation();
  new UndiciInstrumentation();
}
const initOptions = {
  sampler: sampled ? new AlwaysOnSampler() : new AlwaysOffSampler(),
  exporters: [new InMemorySpanExporter()],
  propagator: { b3Inject: 'multi' as const },
};
let handle: ReturnType<typeof lib.init> | undefined;
let sdk: { shutdown(): Promise<void> } | undefined;
if (order === 'nodesdk') {
  // A NodeSDK application: the auto-instrumentations (http and undici among them), the session
  // processor in spanProcessors, the session propagator as NodeSDK's; init() after start().
  const { NodeSDK } = require('@opentelemetry/sdk-node');
  const { getNodeAutoInstrumentations } = require('@opentelemetry/auto-instrumentations-node');
  const { SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
  const nodeSdk = new NodeSDK({
    instrumentations: [getNodeAutoInstrumentations({ '@opentelemetry/instrumentation-fs': { enabled: false } })],
    spanProcessors: [new lib.SessionSpanProcessor(), new SimpleSpanProcessor(new InMemorySpanExporter())],
    sampler: initOptions.sampler,
    textMapPropagator: lib.sessionPropagator({ b3Inject: 'multi' }),
  });
  nodeSdk.start();
  sdk = nodeSdk;
  handle = lib.init();
} else if (order === 'before') {
  stock();
  handle = lib.init(initOptions);
} else if (order === 'after') {
  handle = lib.init(initOptions);
  stock();
} else {
  stock(); // 'none': stock instrumentation without init (what main does)
}
const http = require('node:http') as typeof HttpModule;

const lookup = (_h: string, options: unknown, cb?: unknown): void => {
  const done = (typeof options === 'function' ? options : cb) as (...a: unknown[]) => void;
  if (typeof options === 'object' && options !== null && (options as { all?: boolean }).all)
    done(null, [{ address: '127.0.0.1', family: 4 }]);
  else done(null, '127.0.0.1', 4);
};
const agent = new http.Agent({ keepAlive: true, lookup: lookup as never });

function send(make: (cb: (r: HttpModule.IncomingMessage) => void) => HttpModule.ClientRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = make((r) => {
      r.resume();
      r.on('end', () => resolve());
    });
    req.on('error', reject);
    if (!req.writableEnded) req.end();
  });
}

(async () => {
  const server = await rawServer();
  const pub = `http://api.openai.com:${server.port}`;
  const heads: Record<string, string> = {};
  const session = lib.startSession();
  let traceId = '';
  await lib.withSession(session, async () => {
    traceId = lib.getSessionId() ?? '';
    const at = async (name: string, fn: () => Promise<unknown>) => {
      const n = server.heads.length;
      await fn();
      heads[name] = server.heads[n] ?? '';
    };
    const copied = { traceparent: `00-${traceId}-bbbbbbbbbbbbbbbb-01`, baggage: `agentops.session.id=${traceId},other.vendor=x` };
    await at('http-public', () =>
      send((cb) => http.request({ host: 'api.openai.com', port: server.port, path: '/v1/chat?x=1', agent }, cb)),
    );
    await at('http-public-array', () =>
      send((cb) => http.request({ host: 'api.openai.com', port: server.port, agent, headers: Object.entries(copied) as never }, cb)),
    );
    await at('http-public-set-later', () =>
      send((cb) => {
        const r = http.request({ host: 'api.openai.com', port: server.port, agent, method: 'POST' }, cb);
        r.setHeader('traceparent', copied.traceparent);
        r.setHeader('content-length', '1'); // the raw server reads content-length bodies only
        r.write('a');
        return r;
      }),
    );
    await at('http-internal', () => send((cb) => http.request({ host: '127.0.0.1', port: server.port, agent }, cb)));
    await at('fetch-public', () => fetch(`${pub}/v1/models`).then((r) => r.text()));
    await at('fetch-public-copied', () => fetch(`${pub}/v1/models`, { headers: copied }).then((r) => r.text()));
    await at('fetch-internal', () => fetch(`http://127.0.0.1:${server.port}/x`).then((r) => r.text()));
    // This library's hops with per-call targets the global policy does not know: allowed there.
    await at('hop-inject-allowed', () =>
      send((cb) =>
        http.request(
          { host: 'api.openai.com', port: server.port, agent, headers: injectSessionHeaders({}, `${pub}/v1`, { targets: [pub] }) },
          cb,
        ),
      ),
    );
    await at('hop-fetch-allowed', () => sessionFetch(undefined, { targets: [pub] })(`${pub}/v1`).then((r) => r.text()));
  });
  session.end();
  console.log(JSON.stringify({ heads: { traceId, heads } }));
  agent.destroy();
  server.close();
  await handle?.shutdown();
  await sdk?.shutdown();
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
