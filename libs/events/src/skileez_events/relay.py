"""The outbox relay: publishes committed events with publisher confirms, sent once confirmed.

Each batch is claimed and marked sent in one statement (`UPDATE ... WHERE seq IN (SELECT
... FOR UPDATE SKIP LOCKED) RETURNING`) inside one transaction that stays open until the
broker has confirmed every message, so several replicas never publish the same claimed row; a
row the broker did not confirm is marked unsent again, with its error, before the commit. A
relay that dies before the commit leaves its rows unsent and they are published again:
delivery is at least once, and consumers' inboxes absorb the copy.

An event stored with a trace context (`skileez_events.tracing`) is published under a span of
that trace, whose context the message carries in its headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aio_pika
import asyncpg
from aio_pika.abc import AbstractExchange
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_db.connections import transaction
from skileez_events import broker
from skileez_events.backoff import Backoff
from skileez_events.envelope import CONTENT_TYPE
from skileez_events.outbox import Outbox
from skileez_events.schemas import producer_of
from skileez_events.topology import Names, declare_exchanges
from skileez_events.tracing import continued, current_trace_context, trace_context_in, tracer

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        outbox: Outbox,
        amqp_url: str,
        names: Names,
        *,
        batch_size: int = 200,
        poll_interval: float = 1.0,
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        # asyncpg's prepared statements: the relay runs on every event's path.
        table = outbox.table.name
        self._claim = (
            f"UPDATE {table} SET sent_at = now() WHERE seq IN (SELECT seq FROM {table}"
            f" WHERE sent_at IS NULL ORDER BY seq LIMIT {int(batch_size)} FOR UPDATE SKIP LOCKED)"
            " RETURNING seq, event_id, event_type, correlation_id, occurred_at, body"
        )
        self._mark_failed = (
            f"UPDATE {table} SET sent_at = NULL, attempts = attempts + 1, last_error = $2"
            " WHERE seq = $1"
        )
        self._amqp_url = amqp_url
        self._names = names
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._caught_up = asyncio.Event()
        self.connected = False

    def wake(self) -> None:
        """Look for work now instead of at the next poll."""
        self._wake.set()

    async def drain(self, timeout: float = 5.0) -> None:
        """Graceful shutdown: give the relay up to `timeout` s to publish what is committed.

        Whatever is still unsent stays in the outbox for the next start or another replica.
        """
        if not self.connected:
            return
        self._caught_up.clear()
        self.wake()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._caught_up.wait()

    async def run(self) -> None:
        """Relay until cancelled, reconnecting to the broker and the database as needed."""
        unsubscribe = self._outbox.on_commit(self.wake)
        backoff = Backoff()
        try:
            while True:
                try:
                    connection = await broker.connect(self._amqp_url)
                    connection.close_callbacks.add(self._on_connection_lost)
                    async with connection:
                        channel = await connection.channel(
                            publisher_confirms=True, on_return_raises=True
                        )
                        exchanges = await declare_exchanges(channel, self._names)
                        self.connected = True
                        log.info("outbox relay connected to the broker")
                        await self._relay_forever(exchanges, backoff)
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    log.warning("outbox relay interrupted (%s); retrying", error)
                finally:
                    self.connected = False
                await asyncio.sleep(backoff.next_delay())
        finally:
            unsubscribe()

    async def _relay_forever(
        self, exchanges: dict[str, AbstractExchange], backoff: Backoff
    ) -> None:
        while self.connected:
            sent, failed = await self.relay_batch(exchanges)
            if failed:
                await asyncio.sleep(backoff.next_delay())
                continue
            backoff.reset()
            if sent < self._batch_size:
                # A wake-up during the batch may be a commit its claim did not see (or a
                # drain asking for it): caught up only after a claim that began after it.
                if not self._wake.is_set():
                    self._caught_up.set()
                await self._wait_for_work()
        raise ConnectionError("connection to the broker lost")

    def _on_connection_lost(self, *_args: object) -> None:
        self.connected = False
        self.wake()

    async def _wait_for_work(self) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that arrives
        # as the wake-up completes, and the relay then never stops.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._poll_interval):
                await self._wake.wait()
        self._wake.clear()

    async def relay_batch(self, exchanges: dict[str, AbstractExchange]) -> tuple[int, int]:
        """Publish one claimed batch; return how many were confirmed and how many failed."""
        async with transaction(self._engine) as conn:
            rows = sorted(await conn.fetch(self._claim), key=lambda row: row["seq"])
            if not rows:
                return 0, 0
            results = await asyncio.gather(
                *(self._publish(exchanges, row) for row in rows), return_exceptions=True
            )
            failures = [
                (row["seq"], result)
                for row, result in zip(rows, results, strict=True)
                if result is not None
            ]
            for seq, error in failures:
                # A publish cancelled while this task is not: aiormq failing its pending
                # confirmation on a connection found dead (missed heartbeats), not a shutdown.
                if not isinstance(error, Exception | asyncio.CancelledError):
                    raise error
                await conn.execute(self._mark_failed, seq, repr(error)[:1000])
        if failures:
            log.warning("outbox relay: %d of %d events not confirmed", len(failures), len(rows))
            if any(
                not isinstance(error, aio_pika.exceptions.PublishError) for _, error in failures
            ):
                raise ConnectionError("broker did not confirm; reconnecting")
        return len(rows) - len(failures), len(failures)

    async def _publish(self, exchanges: dict[str, AbstractExchange], row: asyncpg.Record) -> None:
        cause = continued(trace_context_in(row["body"]))
        if cause is None:
            await self._send(exchanges, row, {})
            return
        # The event's own trace continues here; the message carries this span's context.
        with tracer.start_as_current_span(
            f"{row['event_type']} publish",
            context=cause,
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "rabbitmq",
                "messaging.operation.type": "send",
                "messaging.destination.name": producer_of(row["event_type"]),
                "messaging.message.id": row["event_id"],
                "messaging.message.conversation_id": row["correlation_id"],
            },
        ):
            await self._send(exchanges, row, current_trace_context())

    async def _send(
        self,
        exchanges: dict[str, AbstractExchange],
        row: asyncpg.Record,
        headers: dict[str, str],
    ) -> None:
        message = aio_pika.Message(
            row["body"],
            headers=dict(headers),
            content_type=CONTENT_TYPE,
            message_id=row["event_id"],
            correlation_id=row["correlation_id"],
            type=row["event_type"],
            timestamp=row["occurred_at"],
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        exchange = exchanges[producer_of(row["event_type"])]
        await exchange.publish(message, routing_key=row["event_type"], mandatory=True)
