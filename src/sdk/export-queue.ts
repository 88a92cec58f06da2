import { TraceFlags } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { log } from '../base/diag.js';

/** Tuning of the export queue. */
export interface ExportQueueOptions {
  /** Spans held at most; beyond, new spans are dropped and counted (default 2048). */
  maxQueueSize?: number;
  /** Spans per export call (default 512). */
  maxExportBatchSize?: number;
  /** Delay between scheduled exports in ms (default 1000). */
  scheduledDelayMillis?: number;
  /** An export that has not answered after this many ms counts as failed (default 10000). */
  exportTimeoutMillis?: number;
}

/** Counters of one queue. */
export interface ExportQueueStats {
  /** Spans the exporter accepted. */
  exported: number;
  /** Spans lost: queue full, export failed or timed out. */
  dropped: number;
  /** Spans waiting in the queue now. */
  queued: number;
}

/**
 * A batching span processor like the SDK's BatchSpanProcessor, with memory bounded the same way,
 * but it counts what it exports and drops (the SDK's keeps that private) and it never waits on
 * an exporter longer than the timeout, so a dead collector costs a bounded queue and nothing else.
 */
export class CountingExportQueue implements SpanProcessor {
  private readonly exporter: SpanExporter;
  private readonly maxQueueSize: number;
  private readonly batchSize: number;
  private readonly delay: number;
  private readonly timeout: number;
  private queue: ReadableSpan[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private isShutdown = false;
  private dropWarned = false;
  readonly counts = { exported: 0, dropped: 0 };

  constructor(exporter: SpanExporter, options: ExportQueueOptions = {}) {
    this.exporter = exporter;
    this.maxQueueSize = positive(options.maxQueueSize, 2048);
    this.batchSize = Math.min(positive(options.maxExportBatchSize, 512), this.maxQueueSize);
    this.delay = positive(options.scheduledDelayMillis, 1000);
    this.timeout = positive(options.exportTimeoutMillis, 10_000);
  }

  stats(): ExportQueueStats {
    return { exported: this.counts.exported, dropped: this.counts.dropped, queued: this.queue.length };
  }

  onStart(_span: Span): void {}

  onEnd(span: ReadableSpan): void {
    if (this.isShutdown || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.queue.length >= this.maxQueueSize) {
      this.counts.dropped++;
      if (!this.dropWarned) {
        this.dropWarned = true;
        log.warn(`export queue full (${this.maxQueueSize}); dropping spans until the exporter catches up`);
      }
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.batchSize) this.kick(0);
    else this.kick(this.delay);
  }

  private kick(delay: number): void {
    if (this.inFlight !== undefined) return;
    if (this.timer !== undefined) {
      if (delay > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.exportOne().then(() => {
        if (this.queue.length > 0) this.kick(this.queue.length >= this.batchSize ? 0 : this.delay);
      });
    }, delay);
    this.timer.unref();
  }

  private exportOne(): Promise<void> {
    if (this.inFlight !== undefined) return this.inFlight;
    if (this.queue.length === 0) return Promise.resolve();
    const batch = this.queue.splice(0, this.batchSize);
    this.inFlight = new Promise<void>((resolve) => {
      let settled = false;
      const timer = setTimeout(
        () => settle({ code: ExportResultCode.FAILED, error: new Error(`export timed out after ${this.timeout} ms`) }),
        this.timeout,
      );
      timer.unref();
      const settle = (result: ExportResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (result.code === ExportResultCode.SUCCESS) {
          this.counts.exported += batch.length;
          this.dropWarned = false;
        } else {
          this.counts.dropped += batch.length;
          log.warn(`span export failed; ${batch.length} spans dropped`, result.error);
        }
        resolve();
      };
      try {
        this.exporter.export(batch, settle);
      } catch (err) {
        settle({ code: ExportResultCode.FAILED, error: err as Error });
      }
    }).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  async forceFlush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.inFlight !== undefined) await this.inFlight;
    while (this.queue.length > 0) await this.exportOne();
    await this.exporter.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    if (this.isShutdown) return;
    await this.forceFlush();
    this.isShutdown = true;
    await this.exporter.shutdown();
  }
}

function positive(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback;
}
