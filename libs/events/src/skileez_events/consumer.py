"""The idempotent inbox consumer.

Each delivery is parsed and validated as it arrives: a malformed or unknown message is
dead-lettered at once. A valid one joins an in-process buffer shared by the consumer's
subscriptions, which a few worker tasks empty in batches: a worker waits for one delivery and
takes with it whatever else is already buffered (up to `batch_size`), never waiting to fill a
batch, so at low load a batch is one delivery and at high load one connection, BEGIN and COMMIT
(and its WAL flush) serve many events.

A batch runs in one database transaction: record (consumer, event id) of all its deliveries in
the inbox in one statement, let the service lock ahead the rows its new events will lock (one
statement, `lock_ahead`), then run the handler of each new one, whose effects and outbox rows
commit with that record; every delivery of the batch is acked only after the commit. A
duplicate (even a second copy in the same batch) is not recorded again and is acked without
effect. The handlers of a batch share its connection: each sees the changes of those before it
(with SQL, or through the object kept for a row whose writes are staged to the commit), and row
locks are held until the commit. The transaction is asyncpg's own
(`connections.transaction`): this is every event's path.

If anything in a batch raises, the batch is rolled back and its deliveries are handled one by
one, each in a transaction of its own (as a batch of one is from the start): success is
acked; a handler that knows the event can never apply raises `UnprocessableEvent` and it is
dead-lettered at once; any other failure is nacked after a short pause and redelivered until
the queue's delivery limit dead-letters it. So one bad event never holds back the others.

A database that cannot be reached is not the event's fault: such a delivery is kept (unacked,
so its delivery count does not grow) and retried with a growing pause until the database
answers, instead of being nacked towards the dead-letter queue. An outage of any length then
delays events but never dead-letters them.

Each handler runs correlated with its event (its log lines carry the correlation id) and, when
the event carries a trace context, under a span of that trace (`skileez_events.tracing`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

import asyncpg
import sqlalchemy.exc
from aio_pika.abc import AbstractIncomingMessage
from opentelemetry import trace
from prometheus_client import Counter
from sqlalchemy import MetaData, Table
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_db.connections import transaction
from skileez_db.group_commit import take_batch
from skileez_events import broker
from skileez_events.backoff import Backoff
from skileez_events.envelope import CloudEvent
from skileez_events.schemas import EventData, event_type_of
from skileez_events.tables import inbox_table
from skileez_events.topology import SUBSCRIPTIONS, Names, declare_subscription
from skileez_events.tracing import continued, correlated, tracer

log = logging.getLogger(__name__)

SETTLED = Counter(
    "skileez_events_settled_total",
    "Deliveries an inbox consumer settled: acked (applied or a duplicate), dead_lettered, or"
    " redelivered (nacked after a failure).",
    ["consumer", "outcome"],
)

D = TypeVar("D", bound=EventData)


class UnprocessableEvent(Exception):
    """Raised by a handler for an event that no retry can apply: dead-lettered at once."""


@dataclass(frozen=True)
class Incoming(Generic[D]):
    """A received event: its envelope and its validated, typed data."""

    envelope: CloudEvent
    data: D


Handler = Callable[[Incoming[Any], asyncpg.Connection], Awaitable[None]]
"""Called with the event and the connection whose transaction recorded it in the inbox."""
LockAhead = Callable[[asyncpg.Connection, list[Incoming[Any]]], Awaitable[None]]
"""Called in each transaction with its new events before their handlers: locks (and keeps in
the transaction's identity map), in as few statements as it can and in one order, the rows the
handlers would each lock."""

U = TypeVar("U")
UnitOfWorkFor = Callable[[asyncpg.Connection, CloudEvent], U]
"""A service's unit of work on the inbox transaction's connection, for the event it handles."""
EventHandler = Callable[[Any, U], Awaitable[None]]
"""A service's handler: (the event's data, a unit of work)."""


def in_unit_of_work(
    unit_of_work: UnitOfWorkFor[U], *, unprocessable: tuple[type[Exception], ...] = ()
) -> Callable[[EventHandler[U]], Handler]:
    """Run handlers of (event data, unit of work) in the transaction that records the event in
    the inbox; an error of an `unprocessable` kind dead-letters the event at once."""

    def inbox_handler(handler: EventHandler[U]) -> Handler:
        async def handle(event: Incoming[Any], connection: asyncpg.Connection) -> None:
            try:
                await handler(event.data, unit_of_work(connection, event.envelope))
            except unprocessable as error:
                raise UnprocessableEvent(str(error)) from error

        return handle

    return inbox_handler


@dataclass(frozen=True)
class Subscription:
    """Route: events of `model`'s type go to `handler`."""

    model: type[EventData]
    handler: Handler


class Inbox:
    def __init__(self, metadata: MetaData) -> None:
        self.table: Table = inbox_table(metadata)
        insert = f"INSERT INTO {self.table.name} (consumer, event_id, event_type)"
        self._record_one = f"{insert} VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING event_id"
        self._record_many = (
            f"{insert} SELECT $1, event.id, event.type"
            " FROM unnest($2::text[], $3::text[]) AS event (id, type)"
            " ON CONFLICT DO NOTHING RETURNING event_id"
        )

    async def record(
        self, connection: asyncpg.Connection, consumer: str, envelopes: Sequence[CloudEvent]
    ) -> set[str]:
        """Record the events as handled by `consumer`, in one statement; return the ids that
        were not recorded before (a duplicate, even a second copy in `envelopes`, is not).

        A concurrent duplicate waits on the primary key until the first transaction ends.
        """
        if len(envelopes) == 1:
            [envelope] = envelopes
            rows = await connection.fetch(self._record_one, consumer, envelope.id, envelope.type)
        else:
            ids = [envelope.id for envelope in envelopes]
            types = [envelope.type for envelope in envelopes]
            rows = await connection.fetch(self._record_many, consumer, ids, types)
        return {row["event_id"] for row in rows}


@dataclass(frozen=True)
class _Delivery:
    """A valid message for the workers; `settled` is done once it is acked, rejected or
    nacked, or dropped with its connection."""

    message: AbstractIncomingMessage
    handler: Handler
    event: Incoming[Any]
    settled: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def settle(self) -> None:
        if not self.settled.done():
            self.settled.set_result(None)


class EventConsumer:
    def __init__(
        self,
        *,
        consumer: str,
        engine: AsyncEngine,
        inbox: Inbox,
        amqp_url: str,
        names: Names,
        subscriptions: Sequence[Subscription],
        lock_ahead: LockAhead | None = None,
        prefetch: int = 50,
        workers: int = 4,
        batch_size: int = 32,
    ) -> None:
        """`workers` batches in flight at most (each holds one database connection), of at
        most `batch_size` deliveries each; `prefetch` bounds the deliveries buffered;
        `lock_ahead`, if given, runs in each transaction before the handlers."""
        declared = {event_type_of(model) for model in SUBSCRIPTIONS[consumer]}
        routed = {event_type_of(sub.model) for sub in subscriptions}
        if declared != routed:
            raise ValueError(
                f"{consumer} routes {sorted(routed)} but subscribes {sorted(declared)}"
            )
        if workers < 1 or batch_size < 1:
            raise ValueError("workers and batch_size must be at least 1")
        self._consumer = consumer
        self._engine = engine
        self._inbox = inbox
        self._amqp_url = amqp_url
        self._names = names
        self._subscriptions = subscriptions
        self._lock_ahead = lock_ahead
        self._prefetch = prefetch
        self._workers = workers
        self._batch_size = batch_size
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
        """Wait for the deliveries received so far, buffered or being handled, to be settled
        (graceful shutdown)."""
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=timeout)

    async def _consume_until_disconnected(self, backoff: Backoff) -> None:
        connection = await broker.connect(self._amqp_url)
        lost = asyncio.Event()
        connection.close_callbacks.add(lambda *_: lost.set())
        async with connection:
            # The buffer and its workers live and die with this connection: what they still
            # hold is unacked, so the broker redelivers it and the inbox absorbs any repeat.
            buffer: asyncio.Queue[_Delivery] = asyncio.Queue()
            workers = [asyncio.create_task(self._work(buffer)) for _ in range(self._workers)]
            try:
                channel = await connection.channel()
                queues = [
                    await declare_subscription(
                        channel, self._names, self._consumer, subscription.model
                    )
                    for subscription in self._subscriptions
                ]
                # After the declarations: a lookup that finds nothing reopens the channel.
                channel.close_callbacks.add(lambda *_: lost.set())
                await channel.set_qos(prefetch_count=self._prefetch)
                for queue, subscription in zip(queues, self._subscriptions, strict=True):
                    await queue.consume(partial(self._on_message, buffer, subscription))
                self.ready = True
                backoff.reset()
                log.info("%s consumer ready", self._consumer)
                await lost.wait()
                raise ConnectionError("connection to the broker lost")
            finally:
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                while not buffer.empty():
                    buffer.get_nowait().settle()

    async def _on_message(
        self,
        buffer: asyncio.Queue[_Delivery],
        subscription: Subscription,
        message: AbstractIncomingMessage,
    ) -> None:
        """Dead-letter a malformed message at once, else buffer it; return once it is settled."""
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        try:
            envelope = CloudEvent.from_json(message.body)
            if envelope.type != event_type_of(subscription.model):
                raise ValueError(f"unexpected type {envelope.type!r}")
            data = subscription.model.model_validate(envelope.data)
        except Exception as error:  # whatever reading it raised, it is unreadable
            log.error(
                "%s dead-letters malformed message %s: %s",
                self._consumer,
                message.message_id,
                error,
            )
            try:
                await message.reject(requeue=False)
                SETTLED.labels(self._consumer, "dead_lettered").inc()
            except Exception:
                log.exception("%s could not settle message %s", self._consumer, message.message_id)
            return
        delivery = _Delivery(message, subscription.handler, Incoming(envelope, data))
        buffer.put_nowait(delivery)
        await delivery.settled

    async def _work(self, buffer: asyncio.Queue[_Delivery]) -> None:
        """Settle batches: one delivery, waited for, and whatever else is buffered already."""
        while True:
            batch = await take_batch(buffer, self._batch_size)
            # Rows are locked in the same order by every batch (a stable sort keeps each
            # subject's own order), so two batches never wait on each other in a cycle.
            batch.sort(key=lambda delivery: delivery.event.envelope.subject or "")
            try:
                if len(batch) == 1 or not await self._apply_together(batch):
                    await self._apply_one_by_one(batch)
            except Exception:
                # The channel went away mid-settlement: the broker redelivers; the inbox absorbs it.
                log.exception("%s could not settle %d messages", self._consumer, len(batch))
            finally:
                for delivery in batch:
                    delivery.settle()

    async def _apply_together(self, batch: list[_Delivery]) -> bool:
        """Apply the batch in one transaction and ack it after the commit; False if anything
        in it raised (the transaction is then rolled back and nothing is acked)."""
        try:
            async with transaction(self._engine) as connection:
                await self._apply(connection, batch)
        except Exception as error:
            log.warning(
                "%s rolled back a batch of %d (%r); handling its events one by one",
                self._consumer,
                len(batch),
                error,
            )
            return False
        for delivery in batch:
            await delivery.message.ack()
        SETTLED.labels(self._consumer, "acked").inc(len(batch))
        return True

    async def _apply_one_by_one(self, batch: list[_Delivery]) -> None:
        """Apply each delivery in a transaction of its own; ack, dead-letter or (after one
        pause for all the failed ones) nack it for redelivery."""
        failed: list[AbstractIncomingMessage] = []
        for delivery in batch:
            envelope = delivery.event.envelope
            try:
                await self._apply_once_the_database_answers(delivery)
            except UnprocessableEvent as error:
                log.error(
                    "%s dead-letters %s %s: %s", self._consumer, envelope.type, envelope.id, error
                )
                await delivery.message.reject(requeue=False)
                SETTLED.labels(self._consumer, "dead_lettered").inc()
            except Exception:
                log.exception("%s failed on %s %s", self._consumer, envelope.type, envelope.id)
                failed.append(delivery.message)
            else:
                await delivery.message.ack()
                SETTLED.labels(self._consumer, "acked").inc()
        if failed:
            await asyncio.sleep(max(_redelivery_pause(message) for message in failed))
            for message in failed:
                await message.nack(requeue=True)
                SETTLED.labels(self._consumer, "redelivered").inc()

    async def _apply_once_the_database_answers(self, delivery: _Delivery) -> None:
        """Apply the delivery in a transaction of its own, retrying while the database is
        unreachable; any other error is the caller's."""
        backoff = Backoff()
        while True:
            try:
                async with transaction(self._engine) as connection:
                    await self._apply(connection, [delivery])
                return
            except Exception as error:
                if not _database_unreachable(error):
                    raise
                log.warning(
                    "%s holds %s until the database answers (%r)",
                    self._consumer,
                    delivery.event.envelope.id,
                    error,
                )
            await asyncio.sleep(backoff.next_delay())

    async def _apply(self, connection: asyncpg.Connection, deliveries: list[_Delivery]) -> None:
        """Record the events in the inbox (one statement), lock ahead for those not seen
        before, then run the handler of each of them, in order; a duplicate is skipped."""
        new = await self._inbox.record(
            connection, self._consumer, [delivery.event.envelope for delivery in deliveries]
        )
        fresh: list[_Delivery] = []
        for delivery in deliveries:
            envelope = delivery.event.envelope
            if envelope.id in new:
                new.discard(envelope.id)
                fresh.append(delivery)
            else:
                log.info("%s skips duplicate %s %s", self._consumer, envelope.type, envelope.id)
        if self._lock_ahead is not None and fresh:
            await self._lock_ahead(connection, [delivery.event for delivery in fresh])
        for delivery in fresh:
            with _handling(delivery):
                await delivery.handler(delivery.event, connection)


@contextlib.contextmanager
def _handling(delivery: _Delivery) -> Iterator[None]:
    """The handler runs correlated with its event and, when the message or its envelope carries
    a trace context, under a span continuing that trace (the relay's publish, else the cause)."""
    envelope = delivery.event.envelope
    cause = continued(delivery.message.headers) or continued(
        {"traceparent": envelope.traceparent, "tracestate": envelope.tracestate}
    )
    span: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if cause is not None:
        span = tracer.start_as_current_span(
            f"{envelope.type} process",
            context=cause,
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "rabbitmq",
                "messaging.operation.type": "process",
                "messaging.destination.name": delivery.message.routing_key or envelope.type,
                "messaging.message.id": envelope.id,
                "messaging.message.conversation_id": envelope.correlationid,
            },
        )
    with correlated(envelope.correlationid), span:
        yield
        log.debug("handled %s %s", envelope.type, envelope.id)


def _database_unreachable(error: BaseException) -> bool:
    """No connection could be had, or the server went away: not the event's fault.

    Narrow on purpose: asyncpg raises `InterfaceError` for programming errors too (a wrong
    argument count, two queries at once), and those must reach the delivery limit.
    """
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        return error.connection_invalidated or (
            error.orig is not None and _database_unreachable(error.orig)
        )
    return isinstance(
        error,
        OSError  # refused, reset, unreachable
        | TimeoutError  # connecting timed out
        | sqlalchemy.exc.TimeoutError  # no pooled connection came free
        | asyncpg.ConnectionDoesNotExistError
        | asyncpg.ConnectionFailureError
        | asyncpg.CannotConnectNowError
        | asyncpg.AdminShutdownError,
    )


def _redelivery_pause(message: AbstractIncomingMessage) -> float:
    """A short, growing pause before a failed message goes back, so a retry is not immediate."""
    count = 0
    with contextlib.suppress(TypeError, ValueError):
        count = int(message.headers.get("x-delivery-count") or 0)  # type: ignore[arg-type]
    return float(min(0.05 * 2**count, 2.0))
