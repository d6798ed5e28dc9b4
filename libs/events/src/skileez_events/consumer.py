"""The idempotent inbox consumer.

For each delivery: parse and validate (a malformed or unknown message is dead-lettered at
once), then in one database transaction record (consumer, event id) in the inbox and run the
handler, whose effects and outbox rows commit with that record; ack only after the commit.
A duplicate finds its inbox row and is acked without effect. A handler failure is nacked and
redelivered until the queue's delivery limit dead-letters it; a handler that knows the event can
never apply raises `UnprocessableEvent` and it is dead-lettered at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError
from sqlalchemy import MetaData, Table, bindparam
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skileez_events.backoff import Backoff
from skileez_events.envelope import CloudEvent
from skileez_events.schemas import EventData, event_type_of
from skileez_events.tables import inbox_table
from skileez_events.topology import SUBSCRIPTIONS, Names, declare_exchanges, declare_subscription

log = logging.getLogger(__name__)

D = TypeVar("D", bound=EventData)


class UnprocessableEvent(Exception):
    """Raised by a handler for an event that no retry can apply: dead-lettered at once."""


@dataclass(frozen=True)
class Incoming(Generic[D]):
    """A received event: its envelope and its validated, typed data."""

    envelope: CloudEvent
    data: D


Handler = Callable[[Incoming[Any], AsyncSession], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """Route: events of `model`'s type go to `handler`."""

    model: type[EventData]
    handler: Handler


class Inbox:
    def __init__(self, metadata: MetaData) -> None:
        self.table: Table = inbox_table(metadata)
        self._record = (
            insert(self.table)
            .values(
                consumer=bindparam("consumer"),
                event_id=bindparam("event_id"),
                event_type=bindparam("event_type"),
            )
            .on_conflict_do_nothing()
            .returning(self.table.c.event_id)
        )

    async def record(self, session: AsyncSession, consumer: str, envelope: CloudEvent) -> bool:
        """Record the event as handled by `consumer`; False if it already was (a duplicate).

        A concurrent duplicate waits on the primary key until the first transaction ends.
        """
        result = await session.execute(
            self._record,
            {"consumer": consumer, "event_id": envelope.id, "event_type": envelope.type},
        )
        return result.first() is not None


class EventConsumer:
    def __init__(
        self,
        *,
        consumer: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        inbox: Inbox,
        amqp_url: str,
        names: Names,
        subscriptions: Sequence[Subscription],
        prefetch: int = 50,
    ) -> None:
        declared = {event_type_of(model) for model in SUBSCRIPTIONS[consumer]}
        routed = {event_type_of(sub.model) for sub in subscriptions}
        if declared != routed:
            raise ValueError(
                f"{consumer} routes {sorted(routed)} but subscribes {sorted(declared)}"
            )
        self._consumer = consumer
        self._sessionmaker = sessionmaker
        self._inbox = inbox
        self._amqp_url = amqp_url
        self._names = names
        self._subscriptions = subscriptions
        self._prefetch = prefetch
        self._in_flight: set[asyncio.Task[Any]] = set()
        self.ready = False

    async def run(self) -> None:
        """Consume until cancelled, reconnecting by itself after the broker goes away."""
        backoff = Backoff()
        while True:
            try:
                await self._consume_until_disconnected(backoff)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("%s consumer disconnected (%s); reconnecting", self._consumer, error)
            finally:
                self.ready = False
            await asyncio.sleep(backoff.next_delay())

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for the handlers in flight to finish (graceful shutdown)."""
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=timeout)

    async def _consume_until_disconnected(self, backoff: Backoff) -> None:
        connection = await aio_pika.connect(self._amqp_url)
        lost = asyncio.Event()
        connection.close_callbacks.add(lambda *_: lost.set())
        async with connection:
            channel = await connection.channel()
            channel.close_callbacks.add(lambda *_: lost.set())
            await channel.set_qos(prefetch_count=self._prefetch)
            await declare_exchanges(channel, self._names)
            for subscription in self._subscriptions:
                queue = await declare_subscription(
                    channel, self._names, self._consumer, subscription.model
                )
                await queue.consume(partial(self._on_message, subscription))
            self.ready = True
            backoff.reset()
            log.info("%s consumer ready", self._consumer)
            await lost.wait()
            raise ConnectionError("connection to the broker lost")

    async def _on_message(
        self, subscription: Subscription, message: AbstractIncomingMessage
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        try:
            await self._handle(subscription, message)
        except Exception:
            # The channel went away mid-settlement: the broker redelivers; the inbox absorbs it.
            log.exception("%s could not settle message %s", self._consumer, message.message_id)

    async def _handle(self, subscription: Subscription, message: AbstractIncomingMessage) -> None:
        try:
            envelope = CloudEvent.from_json(message.body)
            if envelope.type != event_type_of(subscription.model):
                raise ValueError(f"unexpected type {envelope.type!r}")
            data = subscription.model.model_validate(envelope.data)
        except (ValidationError, ValueError) as error:
            log.error(
                "%s dead-letters malformed message %s: %s",
                self._consumer,
                message.message_id,
                error,
            )
            await message.reject(requeue=False)
            return
        try:
            async with self._sessionmaker() as session, session.begin():
                if await self._inbox.record(session, self._consumer, envelope):
                    await subscription.handler(Incoming(envelope, data), session)
                else:
                    log.info("%s skips duplicate %s %s", self._consumer, envelope.type, envelope.id)
        except UnprocessableEvent as error:
            log.error(
                "%s dead-letters %s %s: %s", self._consumer, envelope.type, envelope.id, error
            )
            await message.reject(requeue=False)
            return
        except Exception:
            log.exception("%s failed on %s %s", self._consumer, envelope.type, envelope.id)
            await asyncio.sleep(_redelivery_pause(message))
            await message.nack(requeue=True)
            return
        await message.ack()


def _redelivery_pause(message: AbstractIncomingMessage) -> float:
    """A short, growing pause before a failed message goes back, so a retry is not immediate."""
    count = 0
    with contextlib.suppress(TypeError, ValueError):
        count = int(message.headers.get("x-delivery-count") or 0)  # type: ignore[arg-type]
    return float(min(0.05 * 2**count, 2.0))
