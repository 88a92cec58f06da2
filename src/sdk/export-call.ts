/**
 * One call to a SpanExporter: started synchronously (so an exporter that answers at once frees
 * its slot before the caller's next span ends, even in a loop that never yields), with tracing
 * suppressed (the exporter's own HTTP request must not become a span that is exported in turn),
 * bounded by a timeout, and reported exactly once whatever the exporter does: answer, answer
 * twice, throw, or never answer.
 */
import { context } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

/** How an export ended: accepted, or failed with the reason. */
export type ExportOutcome = { ok: true } | { ok: false; error: Error };

/** Hands `spans` to `exporter`; `done` is called once, at the latest after `timeoutMs`. */
export function exportBatch(
  exporter: SpanExporter,
  spans: ReadableSpan[],
  timeoutMs: number,
  done: (outcome: ExportOutcome) => void,
): void {
  let settled = false;
  const timer = setTimeout(
    () => settle({ code: ExportResultCode.FAILED, error: new Error(`export timed out after ${timeoutMs} ms`) }),
    timeoutMs,
  );
  timer.unref();
  function settle(result: ExportResult): void {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    done(result.code === ExportResultCode.SUCCESS ? { ok: true } : { ok: false, error: result.error ?? new Error('export failed') });
  }
  const call = () => {
    try {
      context.with(suppressTracing(context.active()), () => exporter.export(spans, settle));
    } catch (err) {
      settle({ code: ExportResultCode.FAILED, error: err as Error });
    }
  };
  // Resource detectors may still be resolving (host.id is read asynchronously); serializing
  // before they settle would export the resource without them.
  const pending = pendingResources(spans);
  if (pending === undefined) call();
  else Promise.all(pending).then(call, (err: unknown) => settle({ code: ExportResultCode.FAILED, error: err as Error }));
}

function pendingResources(spans: ReadableSpan[]): Promise<void>[] | undefined {
  let pending: Promise<void>[] | undefined;
  let last: unknown;
  for (const span of spans) {
    const resource = span.resource;
    if (resource === last) continue;
    last = resource;
    if (resource.asyncAttributesPending === true && resource.waitForAsyncAttributes !== undefined) {
      (pending ??= []).push(resource.waitForAsyncAttributes());
    }
  }
  return pending;
}
