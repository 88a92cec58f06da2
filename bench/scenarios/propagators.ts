/**
 * Propagator micro-benchmarks (child process): inject into a fresh carrier, then extract from it,
 * as one operation. Ours against @opentelemetry/core's composite of W3CTraceContextPropagator +
 * W3CBaggagePropagator, and @opentelemetry/propagator-b3 (with core's W3C baggage propagator
 * beside it when there is baggage: B3 has none). Every round runs every task once (tinybench),
 * so the propagators alternate.
 */
import {
  baggageEntryMetadataFromString,
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  ROOT_CONTEXT,
  trace,
  type BaggageEntry,
  type Context,
  type TextMapPropagator,
} from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { B3Propagator } from '@opentelemetry/propagator-b3';
import { randomBytes } from 'node:crypto';
import { Bench } from 'tinybench';
import { lib } from '../lib/build.js';
import { fatal, serve } from '../lib/serve.js';

const { outboundInjectContext } = await lib('internals');
const { sessionPropagator } = await lib('index');

/** Operations per timed call: one inject+extract is ~1 µs, close to the timer's own cost. */
const INNER = 32;

const traceId = randomBytes(16).toString('hex');
const spanId = randomBytes(8).toString('hex');
const rootSpanId = randomBytes(8).toString('hex');
const withSpan = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: 1, isRemote: false });

function sessionEntry(): [string, BaggageEntry] {
  return ['agentops.session.id', { value: traceId, metadata: baggageEntryMetadataFromString(`root=${rootSpanId};flags=03`) }];
}

function withBaggage(entries: [string, BaggageEntry][]): Context {
  return propagation.setBaggage(withSpan, propagation.createBaggage(Object.fromEntries(entries)));
}

/** 4096 distinct user values: the cold case never meets the same header twice within the extract cache's reach. */
const DISTINCT = Array.from({ length: 4096 }, (_, i) => `user-${i}`);

const CASES: { name: string; context: Context; baggage: boolean; fresh?: boolean }[] = [
  { name: 'traceparent alone', context: withSpan, baggage: false },
  {
    name: 'traceparent + 3-entry baggage (session entry)',
    context: withBaggage([sessionEntry(), ['user.id', { value: 'user-1234' }], ['tenant', { value: 'acme-corp' }]]),
    baggage: true,
  },
  {
    // The header caches cannot help: a new Baggage object and a header not seen recently, every time.
    name: 'traceparent + 3-entry baggage, a new value every operation (cold caches)',
    context: withBaggage([sessionEntry(), ['user.id', { value: 'user-1234' }], ['tenant', { value: 'acme-corp' }]]),
    baggage: true,
    fresh: true,
  },
  {
    name: 'traceparent + 40-entry baggage',
    context: withBaggage([sessionEntry(), ...Array.from({ length: 39 }, (_, i): [string, BaggageEntry] => [`key${i}`, { value: `value-${i}-${'x'.repeat(8)}` }])]),
    baggage: true,
  },
];

interface Contender {
  name: string;
  propagator(baggage: boolean): TextMapPropagator;
  /** The context this propagator injects: ours needs the permit our outbound hops grant. */
  context(ctx: Context): Context;
}

const CONTENDERS: Contender[] = [
  { name: 'ours', propagator: () => sessionPropagator(), context: (ctx) => outboundInjectContext(ctx, null) },
  {
    name: 'core W3C composite',
    propagator: () => new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    context: (ctx) => ctx,
  },
  {
    name: 'propagator-b3',
    propagator: (baggage) => (baggage ? new CompositePropagator({ propagators: [new B3Propagator(), new W3CBaggagePropagator()] }) : new B3Propagator()),
    context: (ctx) => ctx,
  },
];

let sink: unknown;

/** One inject+extract; throws when the round trip lost something, so a broken contender cannot look fast. */
function roundTrip(propagator: TextMapPropagator, ctx: Context): Context {
  const carrier: Record<string, string> = {};
  propagator.inject(ctx, carrier, defaultTextMapSetter);
  return propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
}

function check(propagator: TextMapPropagator, ctx: Context, baggage: boolean, label: string): void {
  const out = roundTrip(propagator, ctx);
  if (trace.getSpanContext(out)?.traceId !== traceId) throw new Error(`${label}: trace id lost`);
  const expected = propagation.getBaggage(ctx)?.getAllEntries().length ?? 0;
  if (baggage && propagation.getBaggage(out)?.getAllEntries().length !== expected) throw new Error(`${label}: baggage lost`);
}

serve({
  async run(args) {
    const rounds = Number(args.rounds);
    const time = Number(args.timeMs);
    const tasks = CASES.flatMap((c) =>
      CONTENDERS.map((contender) => {
        const propagator = contender.propagator(c.baggage);
        const ctx = contender.context(c.context);
        const label = `${c.name} | ${contender.name}`;
        check(propagator, ctx, c.baggage, label);
        return { label, case: c.name, contender: contender.name, propagator, ctx, fresh: c.fresh === true, toContext: contender.context, samples: [] as number[] };
      }),
    );
    for (let round = 0; round < rounds; round++) {
      const bench = new Bench({ time, warmupTime: round === 0 ? 200 : 50, iterations: 16 });
      const order = tasks.map((_, i) => tasks[(i + round) % tasks.length]!);
      for (const task of order) {
        if (task.fresh) {
          const base = propagation.getBaggage(task.ctx)!;
          let n = 0;
          bench.add(task.label, () => {
            for (let i = 0; i < INNER; i++) {
              const value = DISTINCT[n++ & 4095] as string;
              // Building the context is part of every contender's operation here.
              const ctx = task.toContext(propagation.setBaggage(withSpan, base.setEntry('user.id', { value })));
              sink = roundTrip(task.propagator, ctx);
            }
          });
        } else {
          bench.add(task.label, () => {
            for (let i = 0; i < INNER; i++) sink = roundTrip(task.propagator, task.ctx);
          });
        }
      }
      await bench.run();
      for (const task of tasks) {
        const result = bench.getTask(task.label)?.result as { latency?: { mean?: number }; error?: Error } | undefined;
        if (result?.error) throw result.error;
        const msPerCall = result?.latency?.mean ?? Number.NaN;
        task.samples.push((1000 / msPerCall) * INNER);
      }
    }
    void sink;
    return tasks.map((t) => ({ case: t.case, contender: t.contender, opsPerSecond: t.samples }));
  },
}, { cases: CASES.map((c) => c.name), contenders: CONTENDERS.map((c) => c.name) });

process.on('uncaughtException', fatal);
