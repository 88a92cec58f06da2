// init() configured as an OpenTelemetry user expects, checked against a real OTLP/HTTP receiver
// that decodes what arrives: protocol (http/protobuf by default, http/json) and resource from the
// environment, OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER and the `sampler` option,
// OTEL_BSP_* and OTEL_PROPAGATORS.

import { diag, DiagLogLevel, propagation } from '@opentelemetry/api';
import { AlwaysOffSampler, AlwaysOnSampler } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { init, startSession, withAgent, withSession, type InitHandle } from '../../src/index.js';
import { otlpReceiver, type Receiver } from './otlp-receiver.js';

const VARS = [
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
  'OTEL_BSP_MAX_QUEUE_SIZE',
  'OTEL_PROPAGATORS',
];

let handle: InitHandle | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  await handle?.shutdown();
  handle = undefined;
  await receiver?.close();
  receiver = undefined;
  for (const name of VARS) delete process.env[name];
  diag.disable();
});

async function oneSession(): Promise<string> {
  const session = startSession({ name: 'env' });
  await withSession(session, () => withAgent('agent', async () => undefined));
  session.end();
  await handle!.forceFlush();
  return session.id;
}

describe('protocol and resource from the environment, decoded by a real receiver', () => {
  it.each([
    [{}, 'application/x-protobuf'],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, 'application/json'],
    [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, 'application/json'],
    [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, 'application/x-protobuf'],
  ])('%o -> %s, with the resource and the session intact', async (vars, contentType) => {
    Object.assign(process.env, vars, {
      OTEL_SERVICE_NAME: 'planner',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=agents,service.name=overridden',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=acme',
    });
    receiver = await otlpReceiver();
    handle = init({ otlpEndpoint: receiver.url });
    const sessionId = await oneSession();
    expect(receiver.requests.map((r) => r.contentType)).toEqual(receiver.requests.map(() => contentType));
    expect(receiver.requests.every((r) => r.headers['x-tenant'] === 'acme')).toBe(true);
    const spans = receiver.spans();
    expect(spans.map((s) => s.name).sort()).toEqual(['agent.agent', 'env.session']);
    expect(spans.every((s) => s.traceId === sessionId && s.attributes['session.id'] === sessionId)).toBe(true);
    const resource = spans[0]!.resource;
    expect(resource).toMatchObject({
      'service.name': 'planner',
      'deployment.environment': 'prod',
      team: 'agents',
      'telemetry.sdk.language': 'nodejs',
      'telemetry.sdk.name': 'opentelemetry',
      'host.name': expect.any(String),
      'host.arch': expect.any(String),
      'process.pid': process.pid,
      'process.runtime.name': 'nodejs',
      'process.executable.name': expect.any(String),
    });
    expect(resource['telemetry.sdk.version']).toMatch(/^\d+\.\d+\.\d+/);
    expect(Object.keys(resource)).not.toContain('process.command_args');
  });

  it('options win over the environment: serviceName, resourceAttributes, otlpProtocol', async () => {
    Object.assign(process.env, {
      OTEL_SERVICE_NAME: 'from-env',
      OTEL_RESOURCE_ATTRIBUTES: 'team=env',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    });
    receiver = await otlpReceiver();
    handle = init({
      otlpEndpoint: receiver.url,
      serviceName: 'from-option',
      resourceAttributes: { team: 'option' },
      otlpProtocol: 'http/json',
    });
    await oneSession();
    expect(receiver.requests[0]!.contentType).toBe('application/json');
    expect(receiver.spans()[0]!.resource).toMatchObject({ 'service.name': 'from-option', team: 'option' });
  });

  it('grpc and unknown protocols throw a TypeError naming their source', () => {
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'grpc';
    expect(() => init({ otlpEndpoint: 'http://127.0.0.1:1/v1/traces' })).toThrow(
      /OTEL_EXPORTER_OTLP_PROTOCOL must be .*grpc is not built in/,
    );
    process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = 'http/xml';
    expect(() => init({ otlpEndpoint: 'http://127.0.0.1:1/v1/traces' })).toThrow(TypeError);
    expect(() => init({ otlpEndpoint: 'http://127.0.0.1:1/v1/traces', otlpProtocol: 'grpc' as never })).toThrow(/init otlpProtocol/);
  });
});

describe('sampling: OTEL_TRACES_SAMPLER keeps working, the sampler option wins', () => {
  it('OTEL_TRACES_SAMPLER=always_off exports nothing', async () => {
    process.env.OTEL_TRACES_SAMPLER = 'always_off';
    receiver = await otlpReceiver();
    handle = init({ otlpEndpoint: receiver.url });
    await oneSession();
    expect(receiver.spans()).toEqual([]);
  });

  it('the sampler option overrides OTEL_TRACES_SAMPLER', async () => {
    process.env.OTEL_TRACES_SAMPLER = 'always_off';
    receiver = await otlpReceiver();
    handle = init({ otlpEndpoint: receiver.url, sampler: new AlwaysOnSampler() });
    await oneSession();
    expect(receiver.spans()).toHaveLength(2);
  });

  it('a sampler that is not one throws naming the option', () => {
    expect(() => init({ sampler: {} as never })).toThrow(/init sampler must be a Sampler/);
    expect(() => init({ sampler: new AlwaysOffSampler(), exportQueue: { maxQueueSize: 0 } })).toThrow(/init exportQueue.maxQueueSize/);
  });
});

describe('OTEL_BSP_* and OTEL_PROPAGATORS', () => {
  it('OTEL_BSP_MAX_EXPORT_BATCH_SIZE sizes the export calls; a bad value throws naming the variable', async () => {
    process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE = '2';
    receiver = await otlpReceiver();
    handle = init({ otlpEndpoint: receiver.url });
    for (let i = 0; i < 5; i++) startSession().end();
    await handle.forceFlush();
    expect(receiver.requests.map((r) => r.spans.length).sort()).toEqual([1, 2, 2]);
    await handle.shutdown();
    handle = undefined;
    process.env.OTEL_BSP_MAX_QUEUE_SIZE = 'lots';
    expect(() => init()).toThrow(/OTEL_BSP_MAX_QUEUE_SIZE must be a positive integer/);
  });

  it('OTEL_PROPAGATORS: unset = tracecontext + baggage, tracecontext alone writes no baggage, none registers none, b3 warns', () => {
    const warnings: string[] = [];
    diag.setLogger(
      { error: () => {}, warn: (...a: unknown[]) => warnings.push(a.join(' ')), info: () => {}, debug: () => {}, verbose: () => {} },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
    const fieldsWith = async (value: string | undefined) => {
      if (value === undefined) delete process.env.OTEL_PROPAGATORS;
      else process.env.OTEL_PROPAGATORS = value;
      handle = init();
      const fields = propagation.fields();
      await handle.shutdown();
      handle = undefined;
      return fields;
    };
    return (async () => {
      expect(await fieldsWith(undefined)).toEqual(expect.arrayContaining(['traceparent', 'baggage']));
      expect(await fieldsWith('tracecontext')).toEqual(['traceparent', 'tracestate']);
      expect(await fieldsWith('none')).toEqual([]);
      // B3 is opt-in by OTEL_PROPAGATORS (issue 14): b3 writes one header, b3multi the X-B3-* set.
      expect(await fieldsWith('tracecontext,baggage,b3')).toEqual(expect.arrayContaining(['traceparent', 'baggage', 'b3']));
      expect(await fieldsWith('tracecontext,baggage,b3multi')).toEqual(expect.arrayContaining(['x-b3-traceid']));
    })();
  });
});
