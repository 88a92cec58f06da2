"""A BullMQ worker on the stock OpenTelemetry Python SDK and the Python `bullmq` package: it runs
each job in the context its producer stored with the job, and adds the next job, for another
queue, with the context stored the same way.

    REDIS_URL=redis://host:port python bullmq_relay.py <in queue>=<out queue> [...]

Where the context is: BullMQ (Node, 5 and 6) stores its telemetry metadata in the job's options
under the key "tm", a string holding a JSON object of W3C fields ({"traceparent": ..., "baggage":
...}); it reads it back from there into `job.opts.telemetry.metadata`. Python BullMQ keeps
options it does not know as they are, so the worker finds the string at job.opts["tm"], and a
job added with {"tm": <JSON>} reaches a Node worker with its context.

Test-only: a job whose data has "tamper" set has its session entry altered on the way (tamper.py).
"""

import asyncio
import json
import os
import signal
import sys
import traceback

from bullmq import Queue, Worker
from opentelemetry import baggage, context, trace
from opentelemetry.propagate import extract, inject

from reporting import exit_with_parent, ready, setup_tracing
from tamper import tamper

exit_with_parent()
tracer = setup_tracing("python-bullmq-relay")


def job_metadata(job) -> dict:
    """The W3C carrier BullMQ stored with the job (empty when there is none or it is not JSON)."""
    try:
        carrier = json.loads(job.opts.get("tm") or "{}")
    except ValueError:
        return {}
    return carrier if isinstance(carrier, dict) else {}


def relay(in_name: str, out_queue: Queue):
    async def process(job, job_token):
        token = context.attach(extract(job_metadata(job)))
        try:
            with tracer.start_as_current_span(f"process {in_name}", kind=trace.SpanKind.CONSUMER) as span:
                session_id = baggage.get_baggage("agentops.session.id")
                if session_id is not None:
                    span.set_attribute("session.id", session_id)
                span.set_attribute("messaging.message.id", job.id)
                with tracer.start_as_current_span(f"add {out_queue.name}", kind=trace.SpanKind.PRODUCER) as add:
                    carrier = {}
                    inject(carrier, context=tamper(context.get_current(), job.data.get("tamper")))
                    next_job = await out_queue.add(job.name, job.data, {"tm": json.dumps(carrier)})
                    add.set_attribute("messaging.message.id", next_job.id)
                return next_job.id
        except Exception:
            traceback.print_exc()  # to stderr, which the test shows when it waits in vain
            raise
        finally:
            context.detach(token)

    return process


async def main(routes: dict[str, str]) -> None:
    connection = os.environ["REDIS_URL"]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    queues = {name: Queue(name, {"connection": connection}) for name in routes.values()}
    workers = [Worker(name, relay(name, queues[out]), {"connection": connection, "concurrency": 8}) for name, out in routes.items()]
    # Ready once Redis answers (jobs added before the workers poll wait in the queue anyway).
    for queue in queues.values():
        await queue.getJobCounts()
    ready(queues=sorted(routes))
    await stop.wait()
    await asyncio.gather(*(worker.close() for worker in workers))
    await asyncio.gather(*(queue.close() for queue in queues.values()))


if __name__ == "__main__":
    asyncio.run(main(dict(route.split("=", 1) for route in sys.argv[1:])))
