"""The transactional outbox: `add` writes an event in the caller's asyncpg transaction.

The events of a transaction are written in one INSERT just before it commits
(`statements.StagedInsert`), so a batch of events costs one round trip, not one each.

While a relay of this process is connected to the broker, the rows are written with a lease
and handed to that relay once the transaction has committed (`connections.after_commit`, no
extra round trip): it publishes them at once, with no claim, and marks them sent after the
confirms. Until the lease ends no other relay claims them; after it, any relay does, so rows
whose relay died are published again (at least once; consumers' inboxes absorb the copy).
Rows committed while no relay here is connected have no lease: the relays claim them, woken
here at the commit or at their next poll in other processes. (Not `NOTIFY`: PostgreSQL
serialises every committing transaction that has notified, one global lock held through the
commit's WAL flush, which cut an UPDATE + INSERT transaction from ~7,100 to ~1,900 tx/s here.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

import asyncpg
from sqlalchemy import MetaData, Table

from skileez_events.connections import after_commit, locked
from skileez_events.envelope import CloudEvent
from skileez_events.statements import StagedInsert
from skileez_events.tables import outbox_table


class OutboxRow(NamedTuple):
    """What a relay publishes of a row."""

    event_id: str
    event_type: str
    correlation_id: str
    occurred_at: datetime
    body: bytes


class Relay(Protocol):
    """What the outbox needs of a relay of its process (`relay.OutboxRelay`)."""

    @property
    def lease(self) -> timedelta | None:
        """How long it keeps the rows handed to it; None while it cannot publish them."""

    def take(self, rows: list[OutboxRow]) -> None:
        """Publish these committed rows, leased to it."""

    def wake(self) -> None:
        """Claim what is committed and unleased now instead of at the next poll."""


@dataclass
class _Handed:
    """The relay a transaction's rows go to (None: no relay here can take them), their lease,
    and the rows; kept in the transaction's `connections.locked` map."""

    relay: Relay | None
    lease: timedelta | None
    rows: list[OutboxRow] = field(default_factory=list)


_HANDED = ("outbox", "handed to")


class Outbox:
    def __init__(self, metadata: MetaData) -> None:
        self.table: Table = outbox_table(metadata)
        self._rows = StagedInsert(
            self.table,
            ["event_id", "event_type", "correlation_id", "occurred_at", "body", "lease"],
        )
        self._relays: list[Relay] = []

    def attach(self, relay: Relay) -> None:
        """Hand `relay` the rows this process commits while it can publish them, or wake it
        after commits of rows nobody here could take."""
        self._relays.append(relay)

    def detach(self, relay: Relay) -> None:
        self._relays.remove(relay)

    def add(self, connection: asyncpg.Connection, event: CloudEvent) -> None:
        """Stage `event`; it is published only if the caller's transaction commits.

        `connection` must be inside `connections.transaction` (checked here). The events a
        transaction adds are written together, in order, just before it commits: one INSERT
        for a batch of them, and a failing INSERT rolls the whole transaction back. The relay
        that takes them is chosen at the transaction's first event.
        """
        kept = locked(connection)
        handed: _Handed | None = kept.get(_HANDED)
        if handed is None:
            handed = kept[_HANDED] = self._taker()
            relay, rows = handed.relay, handed.rows
            if relay is None:
                after_commit(connection, self.committed)
            else:
                after_commit(connection, lambda: relay.take(rows))
        row = OutboxRow(event.id, event.type, event.correlationid, event.time, event.to_json())
        self._rows.add(connection, (*row, handed.lease))
        if handed.relay is not None:
            handed.rows.append(row)

    def _taker(self) -> _Handed:
        for relay in self._relays:
            lease = relay.lease
            if lease is not None:
                return _Handed(relay, lease)
        return _Handed(None, None)

    def committed(self) -> None:
        """Wake this process's relays to claim: rows nobody here could take have committed."""
        for relay in list(self._relays):
            relay.wake()
