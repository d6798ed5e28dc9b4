"""`PostgresUnitOfWork`: the read model's repositories on one asyncpg connection, inside the
transaction that records the event in the inbox (live) or replays the archive (`rebuild`)."""

from __future__ import annotations

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_backoffice.adapters.repositories import (
    ArchiveRepository,
    ContractRepository,
    FactRepository,
    PaymentRepository,
    clear_read_model,
)
from skileez_backoffice.service_layer.rebuild import Rebuilt, rebuild
from skileez_db.connections import transaction
from skileez_events import CloudEvent


class PostgresUnitOfWork:
    def __init__(self, connection: asyncpg.Connection, event: CloudEvent) -> None:
        self.event = event
        self.archive = ArchiveRepository(connection)
        self.contracts = ContractRepository(connection)
        self.payments = PaymentRepository(connection)
        self.facts = FactRepository(connection)


class PostgresReplay:
    """The archive replayed on one connection, in its transaction."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection
        self.archive = ArchiveRepository(connection)

    async def clear_read_model(self) -> None:
        await clear_read_model(self._connection)

    def unit_of_work(self, envelope: CloudEvent) -> PostgresUnitOfWork:
        return PostgresUnitOfWork(self._connection, envelope)


async def rebuild_read_model(engine: AsyncEngine) -> Rebuilt:
    """`rebuild` in a transaction of its own."""
    async with transaction(engine) as connection:
        return await rebuild(PostgresReplay(connection))
