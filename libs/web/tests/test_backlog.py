"""The backlog gauges against real PostgreSQL and RabbitMQ: unsent outbox rows and the oldest's
age, messages ready and dead letters per queue of a consumer, and the loop that samples them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from skileez_db.connections import connection, transaction
from skileez_events import ContractActivated, Names, Outbox, event_type_of, new_event
from skileez_events.broker import connect
from skileez_events.testing import wait_until
from skileez_events.topology import SUBSCRIPTIONS, declare_subscription
from skileez_web.backlog import (
    CONSUMER_READY,
    DEAD_LETTERS,
    OUTBOX_OLDEST_UNSENT,
    OUTBOX_UNSENT,
    QUEUE_READY,
    SAMPLE_FAILED,
    outbox_sample,
    queues_sample,
    sample_every,
)

metadata = MetaData()
outbox = Outbox(metadata)
SUBSCRIPTION_MODELS = SUBSCRIPTIONS["scheduling"]


@pytest.fixture
async def engine(create_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(await create_database("backlog"), pool_size=2)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def activated(contract: str) -> ContractActivated:
    return ContractActivated.model_validate(
        {
            "contract_id": contract,
            "student_id": "student",
            "coach_id": "coach",
            "session_count": 4,
            "amount": 18_000,
            "currency": "eur",
            "payment_id": "00000000-0000-0000-0000-000000000002",
            "activated_at": "2026-12-07T10:00:00Z",
        }
    )


async def test_the_outbox_gauges_count_unsent_rows_and_age_the_oldest(engine: AsyncEngine) -> None:
    sample = outbox_sample(engine, outbox)
    await sample()
    assert (OUTBOX_UNSENT._value.get(), OUTBOX_OLDEST_UNSENT._value.get()) == (0, 0)

    contract = "00000000-0000-0000-0000-000000000001"
    async with transaction(engine) as conn:
        for _ in range(3):
            outbox.add(conn, new_event(activated(contract), subject=contract))
    async with connection(engine) as conn:
        await conn.execute(
            "UPDATE outbox SET created_at = now() - interval '90 seconds'"
            " WHERE seq = (SELECT min(seq) FROM outbox)"
        )
        await conn.execute(
            "UPDATE outbox SET sent_at = now() WHERE seq = (SELECT max(seq) FROM outbox)"
        )
    await sample()
    assert OUTBOX_UNSENT._value.get() == 2
    assert 90 <= OUTBOX_OLDEST_UNSENT._value.get() < 120


async def test_the_queue_gauges_read_each_queue_and_dead_letter_queue_of_the_consumer(
    amqp_url: str, events_names: Names
) -> None:
    [first, second, *_] = SUBSCRIPTION_MODELS
    async with await connect(amqp_url) as broker:
        channel = await broker.channel()
        queue = await declare_subscription(channel, events_names, "scheduling", first)
        # `second`'s queue is never declared: skipped, and the others still read.
        dead = events_names.dead_letter_queue(queue.name)
        for body, routing_key in [(b"1", queue.name)] * 3 + [(b"2", dead)] * 2:
            await channel.default_exchange.publish(aio_pika.Message(body), routing_key=routing_key)
    ready = False
    sample = queues_sample(lambda: ready, "scheduling", amqp_url, events_names)

    async def counted() -> bool:
        await sample()
        return QUEUE_READY.labels("scheduling", queue.name)._value.get() == 3

    await wait_until(counted, timeout=10)
    assert DEAD_LETTERS.labels("scheduling", dead)._value.get() == 2
    assert CONSUMER_READY.labels("scheduling")._value.get() == 0
    missing = events_names.queue("scheduling", event_type_of(second))
    assert missing not in _queues_seen()
    ready = True
    await sample()
    assert CONSUMER_READY.labels("scheduling")._value.get() == 1


async def test_a_failing_sample_is_flagged_and_the_loop_goes_on() -> None:
    taken: list[str] = []

    async def broken() -> None:
        taken.append("broken")
        raise ConnectionError("no database")

    async def working() -> None:
        taken.append("working")

    loop = asyncio.create_task(sample_every(0.01, [("broken", broken), ("working", working)]))
    await wait_until(lambda: taken.count("working") >= 2, timeout=5)
    loop.cancel()
    assert SAMPLE_FAILED.labels("broken")._value.get() == 1
    assert SAMPLE_FAILED.labels("working")._value.get() == 0


def _queues_seen() -> set[str]:
    return {sample.labels["queue"] for metric in QUEUE_READY.collect() for sample in metric.samples}
