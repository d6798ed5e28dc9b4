"""The outbox relay: publishes committed events with publisher confirms, sent once confirmed.

Two ways to a row:
- **Taken**: the rows its own process commits while it is connected come to it at the commit,
  leased to it (`outbox.Outbox.add`). It publishes them at once, with no claim, then marks the
  confirmed ones sent in one statement; one the broker did not confirm loses its lease, with
  its error, and is claimed again.
- **Claimed**: rows with no lease, or whose lease has ended (their relay died or lost the
  broker or the database before marking them), at its start, when woken, and at every poll.
  Each batch is claimed and marked sent in one statement (`UPDATE ... WHERE seq IN (SELECT ...
  FOR UPDATE SKIP LOCKED) RETURNING`) inside one transaction that stays open until the broker
  has confirmed every message, so several replicas never publish the same claimed row; a row
  the broker did not confirm is marked unsent again, with its error, before the commit.

A relay that dies before a row is marked sent leaves it unsent and it is published again:
delivery is at least once, and consumers' inboxes absorb the copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import aio_pika
from aio_pika.abc import AbstractExchange
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_events.backoff import Backoff
from skileez_events.connections import connection, transaction
from skileez_events.envelope import CONTENT_TYPE
from skileez_events.outbox import Outbox, OutboxRow
from skileez_events.schemas import producer_of
from skileez_events.topology import Names, declare_exchanges

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
        lease: timedelta = timedelta(seconds=10),
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        # asyncpg's prepared statements: the relay runs on every event's path.
        table = outbox.table.name
        self._claim = (
            f"UPDATE {table} SET sent_at = now() WHERE seq IN (SELECT seq FROM {table}"
            " WHERE sent_at IS NULL AND (lease IS NULL OR created_at + lease < now())"
            f" ORDER BY seq LIMIT {int(batch_size)} FOR UPDATE SKIP LOCKED)"
            " RETURNING seq, event_id, event_type, correlation_id, occurred_at, body"
        )
        self._mark_sent = (
            f"UPDATE {table} SET sent_at = now()"
            " WHERE event_id = ANY($1::varchar[]) AND sent_at IS NULL"
        )
        self._mark_failed = (
            f"UPDATE {table} SET sent_at = NULL, lease = NULL, attempts = attempts + 1,"
            " last_error = $2 WHERE event_id = $1"
        )
        self._amqp_url = amqp_url
        self._names = names
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._lease = lease
        self._taken: list[OutboxRow] = []
        self._claim_due = True
        self._wake = asyncio.Event()
        self._caught_up = asyncio.Event()
        self.connected = False

    @property
    def lease(self) -> timedelta | None:
        """How long the rows handed to it are its own; None while it cannot publish them."""
        return self._lease if self.connected else None

    def take(self, rows: list[OutboxRow]) -> None:
        """Publish these rows, committed with its lease, at once."""
        self._taken += rows
        self._wake.set()

    def wake(self) -> None:
        """Claim now instead of at the next poll."""
        self._claim_due = True
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
        self._outbox.attach(self)
        backoff = Backoff()
        try:
            while True:
                try:
                    connection = await aio_pika.connect(self._amqp_url)
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
            self._outbox.detach(self)

    async def _relay_forever(
        self, exchanges: dict[str, AbstractExchange], backoff: Backoff
    ) -> None:
        self._claim_due = True  # whatever was committed while it was away
        while self.connected:
            failed = 0
            if self._taken:
                rows, self._taken = self._taken, []
                failed += await self.relay_taken(exchanges, rows)
            if self._claim_due:
                self._claim_due = False
                sent, failed_claimed = await self.relay_batch(exchanges)
                failed += failed_claimed
                self._claim_due = sent == self._batch_size  # more may be waiting
            if failed:
                self._claim_due = True
                await asyncio.sleep(backoff.next_delay())
                continue
            backoff.reset()
            if not self._taken and not self._claim_due:
                self._caught_up.set()
                await self._wait_for_work()
        raise ConnectionError("connection to the broker lost")

    def _on_connection_lost(self, *_args: object) -> None:
        self.connected = False
        self._wake.set()

    async def _wait_for_work(self) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that arrives
        # as the wake-up completes, and the relay then never stops.
        try:
            async with asyncio.timeout(self._poll_interval):
                await self._wake.wait()
        except TimeoutError:
            self._claim_due = True
        self._wake.clear()

    async def relay_taken(
        self, exchanges: dict[str, AbstractExchange], rows: list[OutboxRow]
    ) -> int:
        """Publish rows handed over at their commit; mark the confirmed ones sent in one
        statement, and take the lease off the others; return how many failed."""
        failures = await self._publish_all(exchanges, rows)
        failed = {event_id for event_id, _ in failures}
        confirmed = [row.event_id for row in rows if row.event_id not in failed]
        async with connection(self._engine) as conn:
            if confirmed:
                await conn.execute(self._mark_sent, confirmed)
            for event_id, error in failures:
                await conn.execute(self._mark_failed, event_id, repr(error)[:1000])
        self._raise_unless_refused(failures, len(rows))
        return len(failures)

    async def relay_batch(self, exchanges: dict[str, AbstractExchange]) -> tuple[int, int]:
        """Publish one claimed batch; return how many were confirmed and how many failed."""
        async with transaction(self._engine) as conn:
            claimed = sorted(await conn.fetch(self._claim), key=lambda row: row["seq"])
            rows = [OutboxRow(*row[1:]) for row in claimed]
            if not rows:
                return 0, 0
            failures = await self._publish_all(exchanges, rows)
            for event_id, error in failures:
                await conn.execute(self._mark_failed, event_id, repr(error)[:1000])
        self._raise_unless_refused(failures, len(rows))
        return len(rows) - len(failures), len(failures)

    async def _publish_all(
        self, exchanges: dict[str, AbstractExchange], rows: list[OutboxRow]
    ) -> list[tuple[str, Exception]]:
        """Publish the rows in their order, all in flight at once; the ones not confirmed,
        with their errors."""
        results = await asyncio.gather(
            *(self._publish(exchanges, row) for row in rows), return_exceptions=True
        )
        failures = []
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                failures.append((row.event_id, result))
        return failures

    @staticmethod
    def _raise_unless_refused(failures: list[tuple[str, Exception]], count: int) -> None:
        """Log the failures; a failure other than the broker's refusal means the connection
        is gone: reconnect."""
        if not failures:
            return
        log.warning("outbox relay: %d of %d events not confirmed", len(failures), count)
        if any(not isinstance(error, aio_pika.exceptions.PublishError) for _, error in failures):
            raise ConnectionError("broker did not confirm; reconnecting")

    async def _publish(self, exchanges: dict[str, AbstractExchange], row: OutboxRow) -> None:
        message = aio_pika.Message(
            row.body,
            content_type=CONTENT_TYPE,
            message_id=row.event_id,
            correlation_id=row.correlation_id,
            type=row.event_type,
            timestamp=row.occurred_at,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        exchange = exchanges[producer_of(row.event_type)]
        await exchange.publish(message, routing_key=row.event_type, mandatory=True)
