"""Gauges of what waits: the outbox's unsent rows, the consumer's queues and dead letters.

They are sampled by a loop every `METRICS_INTERVAL_SECONDS` (a query, or a passive declare per
queue), never per request or per scrape, so a busy Prometheus costs nothing more. A sample
that fails leaves the gauges at their last values and is logged; the loop goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aio_pika.exceptions import ChannelNotFoundEntity
from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_db.connections import transaction
from skileez_events import Names, Outbox, event_type_of
from skileez_events.broker import connect
from skileez_events.topology import SUBSCRIPTIONS

log = logging.getLogger(__name__)

Sample = Callable[[], Awaitable[None]]
"""Reads something and sets gauges from it."""

OUTBOX_UNSENT = Gauge("skileez_outbox_unsent", "Outbox rows committed and not yet published")
OUTBOX_OLDEST_UNSENT = Gauge(
    "skileez_outbox_oldest_unsent_seconds",
    "Age of the oldest outbox row not yet published (0 when none waits)",
)
QUEUE_READY = Gauge(
    "skileez_queue_messages_ready",
    "Messages ready in a consumer's queue, not yet delivered (its lag)",
    ["consumer", "queue"],
)
DEAD_LETTERS = Gauge(
    "skileez_dead_letters",
    "Messages in a consumer's dead-letter queue, waiting for an operator",
    ["consumer", "queue"],
)
CONSUMER_READY = Gauge(
    "skileez_consumer_ready", "1 while the consumer is connected and consuming", ["consumer"]
)
SAMPLE_FAILED = Gauge(
    "skileez_metrics_sample_failed", "1 when the last sample of these gauges failed", ["sample"]
)


def outbox_sample(engine: AsyncEngine, outbox: Outbox) -> Sample:
    """Count the unsent rows and age the oldest (the partial index `outbox_unsent` serves it)."""
    statement = (
        "SELECT count(*) AS unsent, coalesce(extract(epoch FROM now() - min(created_at)), 0)"  # noqa: S608
        f" AS oldest FROM {outbox.table.name} WHERE sent_at IS NULL"
    )

    async def sample() -> None:
        async with transaction(engine) as connection:
            row = await connection.fetchrow(statement)
        if row is not None:
            OUTBOX_UNSENT.set(row["unsent"])
            OUTBOX_OLDEST_UNSENT.set(float(row["oldest"]))

    return sample


def queues_sample(ready: Callable[[], bool], name: str, amqp_url: str, names: Names) -> Sample:
    """Whether the consumer `name` consumes (`ready`), and the messages ready in each of its
    queues and dead-letter queues (passive declares: a queue not declared yet is skipped)."""
    queues = [names.queue(name, event_type_of(model)) for model in SUBSCRIPTIONS[name]]
    watched = [(QUEUE_READY, queue) for queue in queues] + [
        (DEAD_LETTERS, names.dead_letter_queue(queue)) for queue in queues
    ]

    async def sample() -> None:
        CONSUMER_READY.labels(name).set(1 if ready() else 0)
        connection = await connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            for gauge, queue in watched:
                try:
                    declared = await channel.declare_queue(queue, passive=True)
                except ChannelNotFoundEntity:
                    channel = await connection.channel()  # the broker closed the other
                    continue
                gauge.labels(name, queue).set(declared.declaration_result.message_count or 0)

    return sample


async def sample_every(interval: float, samples: Sequence[tuple[str, Sample]]) -> None:
    """Every `interval` seconds, the first after one (start-up has enough to do), take every
    sample, until cancelled."""
    while True:
        await asyncio.sleep(interval)
        for name, sample in samples:
            try:
                await sample()
                SAMPLE_FAILED.labels(name).set(0)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                SAMPLE_FAILED.labels(name).set(1)
                log.warning("metrics sample %s failed (%r)", name, error)
