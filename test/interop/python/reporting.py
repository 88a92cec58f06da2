"""What the Python services of the interop tests share: an OpenTelemetry SDK set up the stock way,
whose finished spans are reported to the test as JSON lines on stdout, and the readiness line.

Every stdout line is one JSON object: {"ready": {...}} once the service can take work, then
{"span": {...}} per finished span. Nothing else is printed on stdout (errors go to stderr).
"""

import json
import os
import sys
import threading
from typing import Sequence

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

_stdout_lock = threading.Lock()


def emit(kind: str, payload: dict) -> None:
    """Writes one JSON line; services run handlers on several threads."""
    line = json.dumps({kind: payload}, separators=(",", ":"))
    with _stdout_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _span_id(span_context) -> str | None:
    return None if span_context is None else format(span_context.span_id, "016x")


class JsonLinesSpanExporter(SpanExporter):
    """Reports each finished span: ids in W3C hex, kind, attributes, links."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            context = span.get_span_context()
            emit(
                "span",
                {
                    "name": span.name,
                    "kind": span.kind.name,
                    "traceId": format(context.trace_id, "032x"),
                    "spanId": format(context.span_id, "016x"),
                    "parentSpanId": _span_id(span.parent),
                    "parentTraceId": None if span.parent is None else format(span.parent.trace_id, "032x"),
                    "attributes": dict(span.attributes or {}),
                    "links": [
                        {"traceId": format(link.context.trace_id, "032x"), "spanId": format(link.context.span_id, "016x")}
                        for link in span.links
                    ],
                },
            )
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def setup_tracing(service_name: str) -> trace.Tracer:
    """The stock SDK: a TracerProvider as the global one. Propagators stay the default
    (OTEL_PROPAGATORS unset: tracecontext and baggage)."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter()))
    trace.set_tracer_provider(provider)
    return trace.get_tracer(service_name)


def ready(**details) -> None:
    emit("ready", details)


def _exit_when_stdin_closes() -> None:
    sys.stdin.read()  # returns at EOF: the test closed the pipe, or died
    os._exit(0)


def exit_with_parent() -> None:
    """The test holds the write end of stdin: when it goes away, so does the service, even if the
    test process was killed before it could stop it."""
    threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
