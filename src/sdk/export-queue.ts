import { TraceFlags } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { attempt, remaining, settlesWithin } from '../base/deadline.js';
import { log } from '../base/diag.js';
import { exportBatch, type ExportOutcome } from './export-call.js';
import { resolveQueueOptions, type ExportQueueOptions, type ResolvedQueueOptions } from './queue-options.js';

export type { ExportQueueOptions } from './queue-options.js';

/** Counters of one queue. */
export interface ExportQueueStats {
  /** Spans the exporter accepted. */
  exported: number;
  /** Spans lost: queue full, export failed or timed out, or still held when shutdown's deadline passed. */
  dropped: number;
  /** Spans waiting in the queue now. */
  queued: number;
  /** Spans handed to exports that have not answered yet. */
  inFlight: number;
}

/** One export in flight; removed when it answers, or given up (and counted) at shutdown's deadline. */
interface Pending {
  readonly spans: number;
}

/**
 * A batching span processor with memory bounded like the SDK's BatchSpanProcessor, which counts
 * what it exports and drops and never waits on an exporter past a deadline.
 *
 * An export starts in `onEnd` as soon as a full batch waits, never only from a timer: kafkajs
 * works through a fetched batch in promise continuations, so no timer fires for as long as that
 * lasts, and a timer-driven queue overflows there with an exporter that answers at once. Several
 * exports may be in flight, because an exporter that waits on I/O cannot answer during such a
 * stretch either; the timer only sends partial batches after `scheduledDelayMillis`.
 */
export class CountingExportQueue implements SpanProcessor {
  private readonly exporter: SpanExporter;
  private readonly o: ResolvedQueueOptions;
  private queue: ReadableSpan[] = [];
  private readonly pending = new Set<Pending>();
  private timer: NodeJS.Timeout | undefined;
  private pumping = false;
  private pumpAgain = false;
  /** Deadline of the flush under way: its exports must not outlive it. */
  private flushDeadline: number | undefined;
  private idleWaiters: (() => void)[] = [];
  private shutdownDone: Promise<void> | undefined;
  private isShutdown = false;
  private dropWarned = false;
  private failureWarned = false;
  readonly counts = { exported: 0, dropped: 0 };

  constructor(exporter: SpanExporter, options?: ExportQueueOptions) {
    this.exporter = exporter;
    this.o = resolveQueueOptions(options, 'exportQueue');
  }

  stats(): ExportQueueStats {
    let inFlight = 0;
    for (const p of this.pending) inFlight += p.spans;
    return { exported: this.counts.exported, dropped: this.counts.dropped, queued: this.queue.length, inFlight };
  }

  onStart(_span: Span): void {}

  onEnd(span: ReadableSpan): void {
    if (this.isShutdown || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.queue.length >= this.o.maxQueueSize) {
      this.counts.dropped++;
      if (!this.dropWarned) {
        this.dropWarned = true;
        log.warn(`export queue full (${this.o.maxQueueSize} spans waiting); dropping spans until the exporter catches up`);
      }
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.o.maxExportBatchSize) this.pump(false);
    else if (this.timer === undefined) this.arm();
  }

  /** Exports everything queued now; resolves once it is answered or at the export timeout. Never rejects. */
  forceFlush(): Promise<void> {
    return this.flushUntil(Date.now() + this.o.exportTimeoutMillis);
  }

  /** Flushes, then shuts the exporter down, all within the export timeout. Never rejects. */
  shutdown(): Promise<void> {
    return this.shutdownUntil(Date.now() + this.o.exportTimeoutMillis);
  }

  /**
   * Exports everything queued, partial batches too, and waits until it is answered or
   * `deadline` passes (a `Date.now()` value); what is still held then stays queued.
   */
  async flushUntil(deadline: number): Promise<void> {
    const outer = this.flushDeadline;
    this.flushDeadline = outer === undefined ? deadline : Math.min(outer, deadline);
    try {
      this.pump(true);
      const idle = new Promise<void>((resolve) => (this.isIdle() ? resolve() : this.idleWaiters.push(resolve)));
      await settlesWithin(idle, remaining(deadline));
    } finally {
      this.flushDeadline = outer;
    }
    if (this.exporter.forceFlush !== undefined) {
      await settlesWithin(
        attempt('exporter forceFlush failed', () => this.exporter.forceFlush?.()),
        remaining(deadline),
      );
    }
  }

  /**
   * Flushes until `deadline`, then counts whatever is still queued or unanswered as dropped (so
   * `stats()` is final) and shuts the exporter down, waiting for it no longer than the deadline.
   */
  shutdownUntil(deadline: number): Promise<void> {
    this.shutdownDone ??= (async () => {
      await this.flushUntil(deadline);
      this.isShutdown = true;
      this.clearTimer();
      this.counts.dropped += this.queue.length;
      this.queue = [];
      for (const p of this.pending) this.counts.dropped += p.spans;
      this.pending.clear();
      this.wakeIdle();
      await settlesWithin(
        attempt('exporter shutdown failed', () => this.exporter.shutdown()),
        remaining(deadline),
      );
    })();
    return this.shutdownDone;
  }

  /**
   * Starts exports while a slot is free and a full batch waits (any batch when `partial`, or
   * while a flush is under way). Re-entrant calls (an exporter that answers synchronously) only
   * ask the running loop for another round, so the stack stays flat.
   */
  private pump(partial: boolean): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        const any = partial || this.flushDeadline !== undefined;
        while (
          this.pending.size < this.o.maxConcurrentExports &&
          (this.queue.length >= this.o.maxExportBatchSize || (any && this.queue.length > 0))
        ) {
          this.start(this.take());
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
    if (this.queue.length === 0) this.clearTimer();
    else if (this.timer === undefined) this.arm();
    if (this.isIdle()) this.wakeIdle();
  }

  private take(): ReadableSpan[] {
    if (this.queue.length <= this.o.maxExportBatchSize) {
      const all = this.queue;
      this.queue = [];
      return all;
    }
    return this.queue.splice(0, this.o.maxExportBatchSize);
  }

  private start(batch: ReadableSpan[]): void {
    const record: Pending = { spans: batch.length };
    this.pending.add(record);
    const timeout =
      this.flushDeadline === undefined
        ? this.o.exportTimeoutMillis
        : Math.max(1, Math.min(this.o.exportTimeoutMillis, remaining(this.flushDeadline)));
    exportBatch(this.exporter, batch, timeout, (outcome) => this.settle(record, outcome));
  }

  private settle(record: Pending, outcome: ExportOutcome): void {
    // Given up at shutdown's deadline: already counted as dropped.
    if (!this.pending.delete(record)) return;
    if (outcome.ok) {
      this.counts.exported += record.spans;
      this.dropWarned = false;
      this.failureWarned = false;
    } else {
      this.counts.dropped += record.spans;
      // One warning per outage, not one per batch: a dead collector under load fails thousands.
      if (!this.failureWarned) {
        this.failureWarned = true;
        log.warn(
          `span export failed; ${record.spans} spans dropped (further failures are logged at debug level until an export succeeds)`,
          outcome.error,
        );
      } else {
        log.debug(`span export failed; ${record.spans} spans dropped`, outcome.error);
      }
    }
    if (!this.isShutdown) this.pump(false);
    else if (this.isIdle()) this.wakeIdle();
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump(true);
    }, this.o.scheduledDelayMillis);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.pending.size === 0;
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    if (waiters.length === 0) return;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
