"""`PostgresUnitOfWork`: scheduling's repositories on one asyncpg connection, inside its
`skileez_db.connections.transaction` (an HTTP request's own, or the inbox consumer's that
records the incoming event), so the view's and the sessions' changes, the outbox rows of the
events they cause and that inbox record commit together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_db.connections import transaction
from skileez_events import CloudEvent, caused_by, new_event
from skileez_events.tracing import current_trace_context
from skileez_scheduling.adapters.repositories import ContractViewRepository, SessionRepository
from skileez_scheduling.adapters.tables import outbox
from skileez_scheduling.domain.sessions import Session
from skileez_scheduling.service_layer.integration import integration_events


class PostgresUnitOfWork:
    def __init__(
        self,
        connection: asyncpg.Connection,
        cause: CloudEvent | None = None,
        *,
        correlation_id: str | None = None,
    ) -> None:
        """`cause`: the incoming event being handled; else `correlation_id`: the request's."""
        self._connection = connection
        self._cause = cause
        self._correlation_id = correlation_id
        self.contracts = ContractViewRepository(connection)
        self.sessions = SessionRepository(connection, self._publish)
        self.traceparent = current_trace_context().get("traceparent")

    def _publish(self, session: Session) -> None:
        """Stage in the outbox the integration events of what the session recorded, caused by
        the event handled (or carrying the request's correlation id)."""
        subject = str(session.contract_id)
        for data in integration_events(session, session.pull_events()):
            outbox.add(
                self._connection,
                new_event(data, subject=subject, correlation_id=self._correlation_id)
                if self._cause is None
                else caused_by(self._cause, data, subject=subject),
            )


@asynccontextmanager
async def unit_of_work(
    engine: AsyncEngine, correlation_id: str | None = None
) -> AsyncIterator[PostgresUnitOfWork]:
    """A unit of work in a transaction of its own, committed when the block ends without error;
    the events it causes carry `correlation_id` (a new one each if None)."""
    async with transaction(engine) as connection:
        yield PostgresUnitOfWork(connection, correlation_id=correlation_id)
