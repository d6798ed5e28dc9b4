"""The routing table: which contracts event goes to which handler."""

from __future__ import annotations

from typing import Any

import asyncpg

from skileez_events import (
    ContractActivated,
    ContractCancelled,
    ContractCreated,
    Incoming,
    Subscription,
)
from skileez_scheduling.adapters.repository import SchedulingRepository
from skileez_scheduling.service_layer.contract_events import (
    contract_activated,
    contract_cancelled,
    contract_created,
)


async def lock_contracts(connection: asyncpg.Connection, events: list[Incoming[Any]]) -> None:
    """Lock (or create) ahead, in one statement, the views of a batch's contracts."""
    await SchedulingRepository(connection).lock_or_create(
        {event.data.contract_id for event in events}
    )


CONTRACT_EVENTS = [
    Subscription(ContractCreated, contract_created),
    Subscription(ContractActivated, contract_activated),
    Subscription(ContractCancelled, contract_cancelled),
]
