/**
 * The library's instruments, made from whatever MeterProvider is registered globally: init's own,
 * or an application's. The metrics API has no proxy provider (unlike tracing), so instruments
 * made before a provider is registered would stay no-ops forever: they are made again whenever the
 * registered provider changes. With no provider registered there are none at all, and callers
 * skip every measurement (not even a clock read).
 */
import { metrics, ValueType, type Counter, type Histogram, type MeterProvider, type ObservableCounter } from '@opentelemetry/api';
import { guard } from '../base/diag.js';
import { VERSION } from '../base/version.js';
import { DURATION_BUCKETS, MESSAGING_BUCKETS, METER_NAME, METRIC, TOKEN_BUCKETS, WAIT_BUCKETS } from './names.js';
import { TALLIES, type Tally } from './tally.js';

/** Every instrument the library records. */
export interface Instruments {
  readonly tokenUsage: Histogram;
  readonly operationDuration: Histogram;
  readonly llmCost: Counter;
  readonly llmCalls: Counter;
  readonly llmTokens: Counter;
  readonly entityDuration: Histogram;
  readonly sessionDuration: Histogram;
  /** Reported from {@link TALLIES}: count with `TALLIES.inboundDecisions.add`. */
  readonly inboundDecisions: ObservableCounter;
  /** Reported from {@link TALLIES}: count with `TALLIES.inboundDiscarded.add`. */
  readonly inboundDiscarded: ObservableCounter;
  readonly waitDuration: Histogram;
  /** Reported from {@link TALLIES}: count with `TALLIES.consumedMessages.add`. */
  readonly consumedMessages: ObservableCounter;
  readonly processDuration: Histogram;
}

/** `counter` reporting `tally`, which starts from zero with it. */
function tallied(counter: ObservableCounter, tally: Tally): ObservableCounter {
  tally.clear();
  counter.addCallback((result) => tally.observe(result));
  return counter;
}

function create(provider: MeterProvider): Instruments {
  const meter = provider.getMeter(METER_NAME, VERSION);
  const histogram = (name: string, unit: string, description: string, buckets: readonly number[], valueType = ValueType.DOUBLE) =>
    meter.createHistogram(name, { unit, description, valueType, advice: { explicitBucketBoundaries: [...buckets] } });
  return {
    tokenUsage: histogram(METRIC.tokenUsage, '{token}', 'Number of input and output tokens used.', TOKEN_BUCKETS, ValueType.INT),
    operationDuration: histogram(METRIC.operationDuration, 's', 'GenAI operation duration.', DURATION_BUCKETS),
    llmCost: meter.createCounter(METRIC.llmCost, {
      unit: '{USD}',
      description: 'Cost of LLM calls in US dollars, from the price table given to init or the cost a call reported.',
    }),
    llmCalls: meter.createCounter(METRIC.llmCalls, {
      unit: '{call}',
      description: 'LLM calls by how their cost is known (price_table, caller, unpriced).',
      valueType: ValueType.INT,
    }),
    llmTokens: meter.createCounter(METRIC.llmTokens, {
      unit: '{token}',
      description: 'Tokens of LLM calls by the agent they ran in, model and token type (gen_ai.client.token.usage without the agent).',
      valueType: ValueType.INT,
    }),
    entityDuration: histogram(
      METRIC.entityDuration,
      's',
      'Duration of agent, tool and operation spans, by name and outcome.',
      DURATION_BUCKETS,
    ),
    sessionDuration: histogram(
      METRIC.sessionDuration,
      's',
      'Duration of sessions started in this process, by end state.',
      DURATION_BUCKETS,
    ),
    inboundDecisions: tallied(
      meter.createObservableCounter(METRIC.inboundDecisions, {
        unit: '{decision}',
        description: "Inbound hops' decisions on the caller's context, by transport, trust, shape and outcome.",
        valueType: ValueType.INT,
      }),
      TALLIES.inboundDecisions,
    ),
    inboundDiscarded: tallied(
      meter.createObservableCounter(METRIC.inboundDiscarded, {
        unit: '{hop}',
        description: 'Inbound hops that discarded part of what they were handed, by reason.',
        valueType: ValueType.INT,
      }),
      TALLIES.inboundDiscarded,
    ),
    waitDuration: histogram(
      METRIC.waitDuration,
      's',
      "Time from the producer's timestamp of a message or job to the consumer's hop.",
      WAIT_BUCKETS,
    ),
    consumedMessages: tallied(
      meter.createObservableCounter(METRIC.consumedMessages, {
        unit: '{message}',
        description: 'Number of messages that were delivered to the application.',
        valueType: ValueType.INT,
      }),
      TALLIES.consumedMessages,
    ),
    processDuration: histogram(METRIC.processDuration, 's', 'Duration of processing operation.', MESSAGING_BUCKETS),
  };
}

/** True for the API's no-op provider, which is what `getMeterProvider` returns while none is registered. */
function isNoop(provider: MeterProvider): boolean {
  return provider.constructor?.name === 'NoopMeterProvider';
}

let cached: { provider: MeterProvider; instruments: Instruments | undefined } | undefined;

/** The instruments of the registered MeterProvider, or undefined when none is registered. */
export function instruments(): Instruments | undefined {
  const provider = metrics.getMeterProvider();
  if (cached === undefined || cached.provider !== provider) {
    // The provider may be the application's: a throwing one leaves the library unmeasured, never broken.
    const made = isNoop(provider)
      ? undefined
      : guard('creating the metric instruments failed; nothing is measured', undefined, create, provider);
    cached = { provider, instruments: made };
  }
  return cached.instruments;
}

/** True when a MeterProvider is registered: callers with measuring of their own to prepare check this first. */
export function measuring(): boolean {
  return instruments() !== undefined;
}
