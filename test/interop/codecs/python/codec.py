"""The Python peer of test/interop/codecs.test.ts: OpenTelemetry Python's W3CBaggagePropagator run
on the header values the test writes to stdin, one per line. For each it prints one JSON line: the
baggage extract produced (in the order get_all gives it) and the header inject then wrote.
Python's baggage has no properties: extract keeps what follows a member's ';' out of the value
(or not) by itself. Nothing here interprets the result: the test does."""

import json
import sys

from opentelemetry import baggage
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context


def run(value: str) -> dict:
    propagator = W3CBaggagePropagator()
    extracted = propagator.extract({"baggage": value}, context=Context())
    members = [{"key": k, "value": v} for k, v in baggage.get_all(extracted).items()]
    carrier: dict = {}
    propagator.inject(carrier, context=extracted)
    return {"input": value, "injected": carrier.get("baggage"), "members": members}


def main() -> None:
    for line in sys.stdin.buffer:
        text = line.decode("utf-8").rstrip("\n")
        sys.stdout.write(json.dumps(run(text), ensure_ascii=True) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
