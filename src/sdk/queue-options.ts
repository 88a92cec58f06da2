/**
 * The export queue's settings: an option wins, then the OpenTelemetry `OTEL_BSP_*` variable it
 * maps to, then the library's default. Validated once here (TypeError naming the option or the
 * variable); the queue itself never checks again.
 */
import { envPositiveInteger, optionsObject, positiveIntegerOption } from '../policy/options.js';

/** Tuning of the export queue. */
export interface ExportQueueOptions {
  /** Spans waiting at most; beyond, new spans are dropped and counted (default `OTEL_BSP_MAX_QUEUE_SIZE`, then 2048). */
  maxQueueSize?: number;
  /** Spans per export call; an export starts as soon as this many wait (default `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, then 512). */
  maxExportBatchSize?: number;
  /** How long a partial batch waits before it is exported, in ms (default `OTEL_BSP_SCHEDULE_DELAY`, then 1000). */
  scheduledDelayMillis?: number;
  /** An export not answered after this many ms counts as failed; also the one deadline of a whole flush or shutdown (default `OTEL_BSP_EXPORT_TIMEOUT`, then 10000). */
  exportTimeoutMillis?: number;
  /** Exports in flight at once; spans handed to them are held too, so memory is bounded by maxQueueSize + this × maxExportBatchSize (default 16). */
  maxConcurrentExports?: number;
}

/** Validated settings. */
export type ResolvedQueueOptions = Required<ExportQueueOptions>;

/**
 * An exporter that waits on I/O cannot answer while the event loop is busy (kafkajs works through
 * a fetched batch in promise continuations only, measured ~0.5 s on tiny messages): the batches
 * handed out before such a stretch are what lets the queue take its spans without dropping.
 * Sixteen 512-span batches stay well under the OTLP exporter's own limit of 30 concurrent sends.
 */
const DEFAULT_CONCURRENT_EXPORTS = 16;

export function resolveQueueOptions(options: unknown, where: string, env: NodeJS.ProcessEnv = process.env): ResolvedQueueOptions {
  const o = optionsObject(options, where);
  const maxQueueSize = positiveIntegerOption(
    o.maxQueueSize,
    `${where}.maxQueueSize`,
    envPositiveInteger(env.OTEL_BSP_MAX_QUEUE_SIZE, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048),
  );
  const batch = positiveIntegerOption(
    o.maxExportBatchSize,
    `${where}.maxExportBatchSize`,
    envPositiveInteger(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512),
  );
  return {
    maxQueueSize,
    // As the SDK's processor does: a batch never asks for more than the queue can hold.
    maxExportBatchSize: Math.min(batch, maxQueueSize),
    scheduledDelayMillis: positiveIntegerOption(
      o.scheduledDelayMillis,
      `${where}.scheduledDelayMillis`,
      envPositiveInteger(env.OTEL_BSP_SCHEDULE_DELAY, 'OTEL_BSP_SCHEDULE_DELAY', 1000),
    ),
    exportTimeoutMillis: positiveIntegerOption(
      o.exportTimeoutMillis,
      `${where}.exportTimeoutMillis`,
      envPositiveInteger(env.OTEL_BSP_EXPORT_TIMEOUT, 'OTEL_BSP_EXPORT_TIMEOUT', 10_000),
    ),
    maxConcurrentExports: positiveIntegerOption(o.maxConcurrentExports, `${where}.maxConcurrentExports`, DEFAULT_CONCURRENT_EXPORTS),
  };
}
