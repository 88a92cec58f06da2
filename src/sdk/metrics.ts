/**
 * The metrics side of `init`: its own MeterProvider with the exporters the options and the OTel
 * environment name (OTLP, a Prometheus endpoint, the console) and the application's own readers,
 * registered globally; or, beside an application's MeterProvider, none (the instruments record
 * through the global API into the application's). The recording side (src/metrics) only ever
 * talks to the API.
 */
import { metrics, type MeterProvider as ApiMeterProvider } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { Resource } from '@opentelemetry/resources';
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { attempt, remaining, settlesWithin } from '../base/deadline.js';
import { log } from '../base/diag.js';
import { setMetricSettings } from '../metrics/settings.js';
import type { ResolvedMetricsOptions } from './metrics-options.js';
import { otlpMetricExporter } from './otlp-metrics.js';
import type { AgentOpsToken } from './token.js';

/** What `init` set up for metrics. */
export interface MetricsSetup {
  /** The provider measurements go to: init's, the application's, or none. */
  readonly meterProvider: ApiMeterProvider | undefined;
  /** True when `init` created (and so owns) the provider. */
  readonly ownsProvider: boolean;
  /** Exports what the readers hold, by `deadline` (a `Date.now()` value); never rejects. */
  flushUntil(deadline: number): Promise<void>;
  /** Flushes, shuts the provider down (its Prometheus endpoint closes) and unregisters it, by `deadline`; never rejects. */
  shutdownUntil(deadline: number): Promise<void>;
}

/** The registered MeterProvider, when it is not the API's no-op one. */
function registeredProvider(): ApiMeterProvider | undefined {
  const provider = metrics.getMeterProvider();
  return provider.constructor?.name === 'NoopMeterProvider' ? undefined : provider;
}

function readersFor(o: ResolvedMetricsOptions, token: AgentOpsToken | undefined): IMetricReader[] {
  const readers: IMetricReader[] = [];
  const periodic = { exportIntervalMillis: o.exportIntervalMillis, exportTimeoutMillis: o.exportTimeoutMillis };
  for (const name of o.exporters) {
    if (name === 'otlp') {
      const exporter = otlpMetricExporter(o.otlpEndpoint as string, o.otlpProtocol, o.temporality, o.exportTimeoutMillis, token);
      readers.push(new PeriodicExportingMetricReader({ exporter, ...periodic }));
    } else if (name === 'console') {
      readers.push(new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), ...periodic }));
    } else {
      const where = `${o.prometheusHost}:${o.prometheusPort}`;
      readers.push(
        new PrometheusExporter({ host: o.prometheusHost, port: o.prometheusPort }, (err) => {
          // Listening is asynchronous: a taken port is reported, never thrown into the application.
          if (err !== undefined) log.warn(`the Prometheus endpoint could not listen on ${where}; metrics are not served there`, err);
          else log.debug(`Prometheus endpoint at http://${where}/metrics`);
        }),
      );
    }
  }
  return [...readers, ...o.readers];
}

const NOTHING: MetricsSetup = {
  meterProvider: undefined,
  ownsProvider: false,
  flushUntil: () => Promise.resolve(),
  shutdownUntil: async () => setMetricSettings(undefined),
};

/**
 * Sets metrics up per `o`. With no exporter and no reader (`OTEL_METRICS_EXPORTER=none`) it sets
 * up nothing: no provider, no endpoint, and the instruments stay no-ops.
 */
export function setupMetrics(o: ResolvedMetricsOptions, resource: Resource, token: AgentOpsToken | undefined): MetricsSetup {
  setMetricSettings(o.settings);
  const existing = registeredProvider();
  if (existing !== undefined) {
    if (o.exporters.length > 0 || o.readers.length > 0) {
      log.warn(
        `a MeterProvider is already registered: the library's instruments record to it, and init's metric exporters (${o.exporters.join(', ') || 'none'}) ` +
          `and readers (${o.readers.length}) are not set up. Add them to that provider's readers, or call init() before it is registered`,
      );
    }
    const flush = (existing as { forceFlush?: () => Promise<void> }).forceFlush?.bind(existing);
    return {
      meterProvider: existing,
      ownsProvider: false,
      flushUntil: async (deadline) =>
        void (await settlesWithin(
          attempt('forceFlush of the meter provider failed', () => flush?.()),
          remaining(deadline),
        )),
      shutdownUntil: async () => setMetricSettings(undefined),
    };
  }
  const readers = readersFor(o, token);
  if (readers.length === 0) return NOTHING;
  const provider = new MeterProvider({ resource, readers });
  metrics.setGlobalMeterProvider(provider);
  let shutDown: Promise<void> | undefined;
  return {
    meterProvider: provider,
    ownsProvider: true,
    flushUntil: async (deadline) => {
      const left = remaining(deadline);
      await settlesWithin(
        attempt('forceFlush of the meter provider failed', () => provider.forceFlush({ timeoutMillis: Math.max(1, left) })),
        left,
      );
    },
    shutdownUntil: (deadline) =>
      (shutDown ??= (async () => {
        const left = remaining(deadline);
        await settlesWithin(
          attempt('shutdown of the meter provider failed', () => provider.shutdown({ timeoutMillis: Math.max(1, left) })),
          left,
        );
        // Unregistered, so that a later init (or the application's own setup) starts clean.
        metrics.disable();
        setMetricSettings(undefined);
      })()),
  };
}
