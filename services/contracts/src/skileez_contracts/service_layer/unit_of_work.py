"""The unit of work: repositories over one transaction, and where a contract's events go.

The transaction belongs to the caller (an HTTP request, or the inbox consumer that records
the incoming event in it), so state, outbox rows and notifications commit together or not at all.
It is asyncpg's own (`skileez_db.connections.transaction`): the payment consumer and the
contract page are this service's hot paths.
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
)
from skileez_contracts.adapters.tables import outbox
from skileez_contracts.domain.contract import Contract
from skileez_contracts.domain.notifications import coach_notification
from skileez_contracts.service_layer.integration import integration_event
from skileez_events import CloudEvent, EventData, caused_by, connections, new_event


class UnitOfWork:
    def __init__(
        self,
        connection: asyncpg.Connection,
        *,
        cause: CloudEvent | None = None,
        correlation_id: str | None = None,
    ) -> None:
        """`cause`: the incoming event being handled; else `correlation_id`: the request's."""
        self.connection = connection
        self.cause = cause
        self.correlation_id = correlation_id
        self.proposals = ProposalRepository(connection)
        self.contracts = ContractRepository(connection)
        self.notifications = NotificationRepository(connection)

    async def save(self, contract: Contract, *, new: bool = False) -> None:
        """Store the contract if it changed, its public events in the outbox, its coach messages."""
        recorded = contract.pull_events()
        if new:
            await self.contracts.add(contract)
        elif recorded:
            self.contracts.update(contract)
        now = datetime.now(UTC)
        for event in recorded:
            if (data := integration_event(contract, event)) is not None:
                outbox.add(self.connection, self._envelope(data, contract))
            if (notification := coach_notification(contract, event, now)) is not None:
                if self.cause is None:
                    raise RuntimeError("a coach notification needs the event that caused it")
                self.notifications.add(notification, source_event_id=self.cause.id)

    def _envelope(self, data: EventData, contract: Contract) -> CloudEvent:
        subject = str(contract.id)
        if self.cause is None:
            return new_event(data, subject=subject, correlation_id=self.correlation_id)
        return caused_by(self.cause, data, subject=subject)


@asynccontextmanager
async def unit_of_work(engine: AsyncEngine, correlation_id: str) -> AsyncIterator[UnitOfWork]:
    """A unit of work in a transaction of its own, committed when the block ends without error."""
    async with connections.transaction(engine) as connection:
        yield UnitOfWork(connection, correlation_id=correlation_id)


@asynccontextmanager
async def single_read(engine: AsyncEngine) -> AsyncIterator[UnitOfWork]:
    """Repositories for one statement that only reads, which is then its own transaction.

    No BEGIN and COMMIT: a page that shows one row costs one round trip. Nothing may be
    saved through it (two statements would not be atomic).
    """
    async with connections.connection(engine) as connection:
        yield UnitOfWork(connection)
