"""The routing table: which contracts event goes to which handler, in the transaction that
records the event in the inbox."""

from __future__ import annotations

from typing import Any

import asyncpg

from skileez_events import (
    CloudEvent,
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


def _unit_of_work(connection: asyncpg.Connection, _event: CloudEvent) -> PostgresUnitOfWork:
    return PostgresUnitOfWork(connection)


async def lock_contracts(connection: asyncpg.Connection, events: list[Incoming[Any]]) -> None:
    """Lock (or create) ahead, in one statement, the views of a batch's contracts."""
    await ContractViewRepository(connection).lock_or_create(
        {event.data.contract_id for event in events}
    )


in_the_inbox_transaction = in_unit_of_work(_unit_of_work)

SUBSCRIPTIONS = [
    Subscription(ContractCreated, in_the_inbox_transaction(contracts.contract_created)),
    Subscription(ContractActivated, in_the_inbox_transaction(contracts.contract_activated)),
    Subscription(ContractSuspended, in_the_inbox_transaction(contracts.contract_suspended)),
    Subscription(ContractReinstated, in_the_inbox_transaction(contracts.contract_reinstated)),
    Subscription(ContractCancelled, in_the_inbox_transaction(contracts.contract_cancelled)),
]
