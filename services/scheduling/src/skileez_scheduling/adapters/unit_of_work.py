"""`PostgresUnitOfWork`: scheduling's repositories on one asyncpg connection, inside its
`skileez_db.connections.transaction` (an HTTP request's own, or the inbox consumer's that
records the incoming event, so the view's changes commit with that record)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_db.connections import transaction
from skileez_scheduling.adapters.repositories import ContractViewRepository, SessionRepository


class PostgresUnitOfWork:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self.contracts = ContractViewRepository(connection)
        self.sessions = SessionRepository(connection)


@asynccontextmanager
async def unit_of_work(engine: AsyncEngine) -> AsyncIterator[PostgresUnitOfWork]:
    """A unit of work in a transaction of its own, committed when the block ends without error."""
    async with transaction(engine) as connection:
        yield PostgresUnitOfWork(connection)
