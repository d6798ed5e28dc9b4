"""The routing table: which contracts event goes to which handler, in the transaction that
records the event in the inbox (the events a handler causes are caused by it)."""

from __future__ import annotations

from typing import Any

import asyncpg

from skileez_events import (
    ContractActivated,
    ContractCancelled,
    ContractCreated,
    ContractReinstated,
    ContractSuspended,
    Incoming,
    Subscription,
    in_unit_of_work,
)
from skileez_scheduling.adapters.repositories import ContractViewRepository
from skileez_scheduling.adapters.unit_of_work import PostgresUnitOfWork
from skileez_scheduling.service_layer import contracts


async def lock_contracts(connection: asyncpg.Connection, events: list[Incoming[Any]]) -> None:
    """Lock (or create) ahead, in one statement, the views of a batch's contracts."""
    await ContractViewRepository(connection).lock_or_create(
        {event.data.contract_id for event in events}
    )


in_the_inbox_transaction = in_unit_of_work(PostgresUnitOfWork)

SUBSCRIPTIONS = [
    Subscription(ContractCreated, in_the_inbox_transaction(contracts.contract_created)),
    Subscription(ContractActivated, in_the_inbox_transaction(contracts.contract_activated)),
    Subscription(ContractSuspended, in_the_inbox_transaction(contracts.contract_suspended)),
    Subscription(ContractReinstated, in_the_inbox_transaction(contracts.contract_reinstated)),
    Subscription(ContractCancelled, in_the_inbox_transaction(contracts.contract_cancelled)),
]
