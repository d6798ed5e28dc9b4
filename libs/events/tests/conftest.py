"""A miniature service for testing libs/events: an outbox, an inbox and one effects table."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from skileez_db.connections import transaction
from skileez_events import (
    CloudEvent,
    ContractCancelled,
    ContractCreated,
    EventConsumer,
    Inbox,
    Incoming,
    Names,
    Outbox,
    OutboxRelay,
    Subscription,
)
from skileez_events.consumer import SETTLED, LockAhead
from skileez_events.testing import contract_created_event

metadata = MetaData()
outbox = Outbox(metadata)
inbox = Inbox(metadata)
effects = Table(
    "effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String, nullable=False),
)


@dataclass
class MiniService:
    engine: AsyncEngine
    amqp_url: str
    names: Names
    outbox: Outbox = outbox
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @staticmethod
    async def record_effect(event: Incoming[Any], connection: asyncpg.Connection) -> None:
        await connection.execute("INSERT INTO effects (event_id) VALUES ($1)", event.envelope.id)

    async def commit_event(self, event: CloudEvent) -> None:
        async with transaction(self.engine) as connection:
            outbox.add(connection, event)

    async def effect_count(self, event_id: str | None = None) -> int:
        query = select(func.count()).select_from(effects)
        if event_id is not None:
            query = query.where(effects.c.event_id == event_id)
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def unsent(self) -> int:
        async with self.engine.connect() as conn:
            query = select(func.count()).select_from(outbox.table)
            return int(
                (await conn.execute(query.where(outbox.table.c.sent_at.is_(None)))).scalar_one()
            )

    def start_relay(self, amqp_url: str | None = None, poll_interval: float = 0.2) -> OutboxRelay:
        relay = OutboxRelay(
            self.engine, outbox, amqp_url or self.amqp_url, self.names, poll_interval=poll_interval
        )
        self.tasks.append(asyncio.create_task(relay.run()))
        return relay

    def start_consumer(
        self,
        handler: Callable[[Incoming[Any], asyncpg.Connection], Awaitable[None]] | None = None,
        amqp_url: str | None = None,
        prefetch: int = 50,
        engine: AsyncEngine | None = None,
        lock_ahead: LockAhead | None = None,
    ) -> EventConsumer:
        consumer = EventConsumer(
            consumer="payments",
            engine=engine or self.engine,
            inbox=inbox,
            amqp_url=amqp_url or self.amqp_url,
            names=self.names,
            # Payments' subscriptions; the tests publish ContractCreated.
            subscriptions=[
                Subscription(model, handler or self.record_effect)
                for model in (ContractCreated, ContractCancelled)
            ],
            lock_ahead=lock_ahead,
            prefetch=prefetch,
        )
        self.tasks.append(asyncio.create_task(consumer.run()))
        return consumer

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
async def service(
    create_database: Callable[[str], Awaitable[str]], amqp_url: str, events_names: Names
) -> AsyncIterator[MiniService]:
    engine = create_async_engine(await create_database("events"), pool_size=20)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    mini = MiniService(engine, amqp_url, events_names)
    yield mini
    await mini.stop()
    await engine.dispose()


@pytest.fixture
def settled() -> Callable[[], int]:
    """How many deliveries the consumers have settled (acked, dead-lettered or redelivered)
    since the test began, from the consumer's own metric: a test waits for "this many are
    settled", never sleeps and hopes."""

    def count() -> int:
        return sum(
            sample.value
            for metric in SETTLED.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        )

    before = count()
    return lambda: int(count() - before)


@pytest.fixture
def contract_created() -> Callable[..., CloudEvent]:
    """Factory of valid ContractCreated events (keyword arguments go to `new_event`)."""
    return contract_created_event
