"""A Kafka service on the stock OpenTelemetry Python SDK and aiokafka: it consumes each message in
the context its producer injected into the headers and produces it onward with the context
injected again, through the stock propagation API (default tracecontext and baggage propagators).

    KAFKA_BROKERS=host:port python kafka_relay.py <group id> <in topic>=<out topic> [...]

Test-only: a message whose value is JSON with "tamper" set has its session entry altered on the
way (see tamper.py).
"""

import asyncio
import json
import os
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from opentelemetry import baggage, context, trace
from opentelemetry.propagate import extract, inject

from reporting import exit_with_parent, ready, setup_tracing
from tamper import tamper

exit_with_parent()
tracer = setup_tracing("python-kafka-relay")


def tampering(value: bytes | None) -> str | None:
    try:
        return json.loads(value or b"{}").get("tamper")
    except (ValueError, AttributeError):
        return None


async def relay(message, producer: AIOKafkaProducer, out_topic: str) -> None:
    # Kafka header values are bytes; the propagators read and write strings.
    carrier = {key: value.decode("utf-8") for key, value in message.headers or () if value is not None}
    token = context.attach(extract(carrier))
    try:
        with tracer.start_as_current_span(f"process {message.topic}", kind=trace.SpanKind.CONSUMER) as span:
            session_id = baggage.get_baggage("agentops.session.id")
            if session_id is not None:
                span.set_attribute("session.id", session_id)
            key = message.key.decode("utf-8") if message.key is not None else None
            span.set_attribute("messaging.kafka.message.key", key or "")
            with tracer.start_as_current_span(f"send {out_topic}", kind=trace.SpanKind.PRODUCER) as send:
                send.set_attribute("messaging.kafka.message.key", key or "")
                headers = {}
                inject(headers, context=tamper(context.get_current(), tampering(message.value)))
                await producer.send_and_wait(
                    out_topic,
                    message.value,
                    key=message.key,
                    headers=[(name, value.encode("utf-8")) for name, value in headers.items()],
                )
    finally:
        context.detach(token)


async def main(group_id: str, routes: dict[str, str]) -> None:
    brokers = os.environ["KAFKA_BROKERS"]
    consumer = AIOKafkaConsumer(*routes, bootstrap_servers=brokers, group_id=group_id, auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=brokers)
    await producer.start()
    await consumer.start()
    try:
        # Ready once the group gave us the partitions: nothing sent from now on is missed.
        while not consumer.assignment():
            await asyncio.sleep(0.05)
        ready(assigned=sorted(f"{tp.topic}:{tp.partition}" for tp in consumer.assignment()))
        async for message in consumer:
            await relay(message, producer, routes[message.topic])
    finally:
        await consumer.stop()
        await producer.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], dict(route.split("=", 1) for route in sys.argv[2:])))
