"""`PostgresUnitOfWork`: the unit of work on an asyncpg connection inside the caller's
`skileez_db.connections.transaction`, which commits the contract, its outbox rows and the
parties' notifications together (and, for an incoming event, its inbox row).

asyncpg's own transactions, not SQLAlchemy's: the payment consumer and the contract page are
this service's hot paths (bench/README.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_contracts.adapters.repositories import (
    ContractRepository,
    NotificationRepository,
    ProposalRepository,
    SessionRepository,
    WaitingEventRepository,
)
from skileez_contracts.adapters.tables import outbox
from skileez_contracts.domain.contract import Contract
from skileez_contracts.domain.events import DomainEvent
from skileez_contracts.domain.notifications import contract_notifications
from skileez_contracts.service_layer.integration import integration_events
from skileez_contracts.service_layer.unit_of_work import WaitingEvent
from skileez_db import connections
from skileez_events import CloudEvent, EventData, caused_by, new_event


class PostgresUnitOfWork:
    def __init__(
        self,
        connection: asyncpg.Connection,
        cause: CloudEvent | None = None,
        *,
        correlation_id: str | None = None,
    ) -> None:
        """`cause`: the incoming event being handled; else `correlation_id`: the request's."""
        self.connection = connection
        self.cause = cause
        self.correlation_id = correlation_id
        self.proposals = ProposalRepository(connection)
        self.contracts = ContractRepository(connection)
        self.notifications = NotificationRepository(connection)
        self.waiting_events = WaitingEventRepository(connection, cause)
        self.sessions = SessionRepository(connection)

    async def add(self, contract: Contract) -> None:
        recorded = contract.pull_events()
        await self.contracts.add(contract)
        self._store_effects(contract, recorded, self.cause)

    async def save(self, contract: Contract, *, cause: WaitingEvent | None = None) -> None:
        recorded = contract.pull_events()
        if recorded:
            self.contracts.update(contract)
        self._store_effects(contract, recorded, self.cause if cause is None else cause.envelope)

    def _store_effects(
        self, contract: Contract, recorded: list[DomainEvent], cause: CloudEvent | None
    ) -> None:
        """Stage the public events in the outbox and the parties' notifications, as caused by
        `cause` (the event handled or kept; None for a request, whose notifications are then
        filed under the first event it publishes)."""
        published = [
            self._envelope(data, contract, cause) for data in integration_events(contract, recorded)
        ]
        for envelope in published:
            outbox.add(self.connection, envelope)
        for notification in contract_notifications(contract, recorded, datetime.now(UTC)):
            source = cause if cause is not None else next(iter(published), None)
            if source is None:
                raise RuntimeError("a notification needs the event that caused it")
            self.notifications.add(notification, source_event_id=source.id)

    def _envelope(
        self, data: EventData, contract: Contract, cause: CloudEvent | None
    ) -> CloudEvent:
        subject = str(contract.id)
        if cause is None:
            return new_event(data, subject=subject, correlation_id=self.correlation_id)
        return caused_by(cause, data, subject=subject)


@asynccontextmanager
async def transaction(
    engine: AsyncEngine, correlation_id: str
) -> AsyncIterator[PostgresUnitOfWork]:
    """A unit of work in a transaction of its own, committed when the block ends without error."""
    async with connections.transaction(engine) as connection:
        yield PostgresUnitOfWork(connection, correlation_id=correlation_id)


@asynccontextmanager
async def single_read(engine: AsyncEngine) -> AsyncIterator[PostgresUnitOfWork]:
    """Repositories for one statement that only reads, which is then its own transaction.

    No BEGIN and COMMIT: a page that shows one row costs one round trip. Nothing may be
    saved through it (two statements would not be atomic).
    """
    async with connections.connection(engine) as connection:
        yield PostgresUnitOfWork(connection)
