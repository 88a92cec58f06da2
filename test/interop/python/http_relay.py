"""An HTTP service on the stock OpenTelemetry Python SDK between TypeScript services: it takes a
request, continues the caller's trace and baggage, and calls the next service.

    python http_relay.py <service name>

POST /relay with a JSON body {"hops": [{"url": ..., "forward": "context" | "baggage", "tamper":
null | "id" | "sig" | "reencode" | "unsigned"}, ...]}: the service calls hops[0]["url"] with
{"hops": hops[1:]} and answers what it saw, what it sent and what the next service answered.
"forward": "context" injects everything (traceparent of its client span and the baggage);
"baggage" injects the baggage alone, as a hop that loses the traceparent (a queue, a scheduler)
would. Standard library HTTP only: http.server and urllib.
"""

import json
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry import baggage, context, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagate import extract, inject

from reporting import exit_with_parent, ready, setup_tracing
from tamper import tamper

SERVICE = sys.argv[1] if len(sys.argv) > 1 else "python-relay"
exit_with_parent()
tracer = setup_tracing(SERVICE)
# No proxy from the environment: every hop of these tests is on loopback.
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call_next(hop: dict, rest: list) -> dict:
    """POSTs {"hops": rest} to the hop's URL in a CLIENT span, with the context injected."""
    with tracer.start_as_current_span("POST", kind=trace.SpanKind.CLIENT) as span:
        headers = {"content-type": "application/json"}
        ctx = tamper(context.get_current(), hop.get("tamper"))
        if hop.get("forward", "context") == "context":
            inject(headers, context=ctx)
        else:
            W3CBaggagePropagator().inject(headers, context=ctx)
        request = urllib.request.Request(hop["url"], data=json.dumps({"hops": rest}).encode(), headers=headers, method="POST")
        try:
            with opener.open(request, timeout=30) as response:
                status, answer = response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            status, answer = error.code, {"error": error.read().decode("utf-8", "replace")}
        span.set_attribute("http.response.status_code", status)
        sent = {name: headers[name] for name in ("traceparent", "baggage") if name in headers}
        return {"clientSpanId": format(span.get_span_context().span_id, "016x"), "sent": sent, "status": status, "answer": answer}


class Relay(BaseHTTPRequestHandler):
    def do_POST(self):
        try:
            status, reply = 200, self.relay(json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}"))
        except Exception as error:  # the test reads the reason; the service keeps serving
            status, reply = 500, {"error": repr(error)}
        payload = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def relay(self, body: dict) -> dict:
        # The caller's traceparent and baggage, through the default propagators (tracecontext,
        # baggage). Attached, not only passed as the span's parent: `context=` would parent the
        # span but leave the baggage out of the current context, and so out of what is injected.
        token = context.attach(extract(self.headers))
        try:
            with tracer.start_as_current_span("POST /relay", kind=trace.SpanKind.SERVER) as span:
                session_id = baggage.get_baggage("agentops.session.id")
                if session_id is not None:
                    span.set_attribute("session.id", session_id)
                hops = body.get("hops") or []
                return {
                    "service": SERVICE,
                    "sessionId": session_id,
                    "traceId": format(span.get_span_context().trace_id, "032x"),
                    "spanId": format(span.get_span_context().span_id, "016x"),
                    "received": {name: self.headers.get(name) for name in ("traceparent", "baggage")},
                    "next": call_next(hops[0], hops[1:]) if hops else None,
                }
        finally:
            context.detach(token)

    def log_message(self, format, *args):
        pass  # stdout carries the JSON lines the test reads; access logs would only be noise


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    server.daemon_threads = True
    ready(port=server.server_address[1])
    server.serve_forever()
