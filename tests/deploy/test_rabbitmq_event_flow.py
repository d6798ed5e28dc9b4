"""Every service runs its real outbox relay and inbox consumer under its own narrowed user.

The definitions imported into a throw-away vhost (the broker owns the shared names), each
service's relay and consumer declare what they need (looking the shared names up, declaring
their own) and events flow from each producer (scheduling's SessionBooked too) to each of its
subscribers: ContractCreated to payments and scheduling, PaymentSucceeded to contracts, and
what no one subscribes to (PaymentHeld) into `unrouted.kept`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import asyncpg
import pytest
from sqlalchemy import MetaData, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from skileez_db.connections import transaction
from skileez_events import (
    CloudEvent,
    ContractCreated,
    EventConsumer,
    Inbox,
    Incoming,
    Outbox,
    OutboxRelay,
    PaymentHeld,
    PaymentSucceeded,
    SessionBooked,
    Subscription,
    new_event,
)
from skileez_events.schemas import event_type_of
from skileez_events.testing import contract_created_event, wait_until
from skileez_events.topology import PRODUCERS, SUBSCRIPTIONS

from .broker import NAMES, SERVICES

metadata = MetaData()
outbox = Outbox(metadata)
inbox = Inbox(metadata)


@dataclass
class Running:
    """One service's relay (a producer's) and consumer, on its own database and broker user."""

    engine: AsyncEngine
    consumer: EventConsumer
    relay: OutboxRelay | None
    received: list[str] = field(default_factory=list)

    async def commit(self, event: CloudEvent) -> None:
        async with transaction(self.engine) as connection:
            outbox.add(connection, event)

    async def unsent(self) -> int:
        async with self.engine.connect() as connection:
            query = select(func.count()).where(outbox.table.c.sent_at.is_(None))
            return int((await connection.execute(query)).scalar_one())


@pytest.fixture
async def services(
    broker_users,  # type: ignore[no-untyped-def]
    create_database: Callable[[str], Awaitable[str]],
) -> AsyncIterator[dict[str, Running]]:
    running: dict[str, Running] = {}
    tasks: list[asyncio.Task[Any]] = []
    try:
        for service in SERVICES:
            engine = create_async_engine(await create_database(f"flow_{service}"))
            async with engine.begin() as connection:
                await connection.run_sync(metadata.create_all)
            url = broker_users.urls[service]
            received: list[str] = []

            async def record(
                event: Incoming[Any], _connection: asyncpg.Connection, into: list[str] = received
            ) -> None:
                into.append(event.envelope.type)

            consumer = EventConsumer(
                consumer=service,
                engine=engine,
                inbox=inbox,
                amqp_url=url,
                names=NAMES,
                subscriptions=[Subscription(model, record) for model in SUBSCRIPTIONS[service]],
            )
            relay = (
                OutboxRelay(engine, outbox, url, NAMES, poll_interval=0.2)
                if service in PRODUCERS
                else None
            )
            tasks += [asyncio.create_task(loop.run()) for loop in (consumer, relay) if loop]
            running[service] = Running(engine, consumer, relay, received)
        yield running
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for each in running.values():
            await each.engine.dispose()


def payment_succeeded() -> CloudEvent:
    data = PaymentSucceeded(
        payment_id=uuid.uuid4(),
        contract_id=uuid.uuid4(),
        amount=50_000,
        currency="eur",
        stripe_checkout_session_id="cs_test_1",
        stripe_payment_intent_id="pi_test_1",
        paid_at=datetime.now(UTC),
    )
    return new_event(data, subject=str(data.contract_id))


def payment_held() -> CloudEvent:
    data = PaymentHeld(
        payment_id=uuid.uuid4(),
        contract_id=uuid.uuid4(),
        amount=50_000,
        currency="usd",
        reason="currency_mismatch",
        held_at=datetime.now(UTC),
    )
    return new_event(data, subject=str(data.contract_id))


def session_booked() -> CloudEvent:
    now = datetime.now(UTC)
    data = SessionBooked(
        session_id=uuid.uuid4(),
        contract_id=uuid.uuid4(),
        starts_at=now + timedelta(days=1),
        duration_minutes=60,
        by="student-1",
        at=now,
    )
    return new_event(data, subject=str(data.contract_id))


async def kept_messages(url: str) -> int:
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel()
        kept = await channel.declare_queue(NAMES.unrouted_queue, passive=True)
        return int(kept.declaration_result.message_count or 0)


async def test_each_service_relays_and_consumes_under_its_own_user(
    broker_users,  # type: ignore[no-untyped-def]
    services: dict[str, Running],
) -> None:
    await wait_until(lambda: all(each.consumer.ready for each in services.values()), timeout=30)
    await wait_until(
        lambda: all(each.relay.connected for each in services.values() if each.relay), timeout=30
    )
    kept_before = await kept_messages(broker_users.urls["ops"])

    published = {
        "contracts": [contract_created_event()],
        "payments": [payment_succeeded(), payment_held()],
        "scheduling": [session_booked()],
    }
    for producer, events in published.items():
        for event in events:
            await services[producer].commit(event)

    # Each subscriber receives what it subscribes to (ContractCreated: payments and scheduling;
    # PaymentSucceeded: contracts), whatever the order of arrival.
    types = [event.type for events in published.values() for event in events]
    for service, each in services.items():
        subscribed = {event_type_of(model) for model in SUBSCRIPTIONS[service]}
        expected = sorted(t for t in types if t in subscribed)
        await wait_until(
            lambda each=each, expected=expected: sorted(each.received) == expected, timeout=30
        )
    assert event_type_of(ContractCreated) in services["payments"].received
    assert event_type_of(PaymentSucceeded) in services["contracts"].received

    async def all_sent() -> bool:
        return all([await each.unsent() == 0 for each in services.values() if each.relay])

    await wait_until(all_sent, timeout=30)
    # Those no one subscribes to (PaymentHeld, SessionBooked while nothing consumes them) are kept.
    subscribed = {event_type_of(model) for models in SUBSCRIPTIONS.values() for model in models}
    unrouted = [t for t in types if t not in subscribed]
    assert await kept_messages(broker_users.urls["ops"]) == kept_before + len(unrouted)
