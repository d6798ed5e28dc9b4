"""The routing table of incoming events: which event goes to which handler."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from skileez_events import (
    CloudEvent,
    ContractCancelled,
    ContractCreated,
    Subscription,
    in_unit_of_work,
)
from skileez_payments.adapters.unit_of_work import PostgresUnitOfWork
from skileez_payments.service_layer.cancellations import Refunding, end_contract
from skileez_payments.service_layer.contracts import learn_contract


def _unit_of_work(connection: asyncpg.Connection, _cause: CloudEvent) -> PostgresUnitOfWork:
    return PostgresUnitOfWork(connection)


in_the_inbox_transaction = in_unit_of_work(_unit_of_work)


def subscriptions(refunding: Callable[[], Refunding]) -> list[Subscription]:
    """The routing table; `refunding` gives the app's Stripe gateway once it is set up."""

    async def contract_cancelled(event: ContractCancelled, uow: PostgresUnitOfWork) -> None:
        await end_contract(event, uow, refunding())

    return [
        Subscription(ContractCreated, in_the_inbox_transaction(learn_contract)),
        Subscription(ContractCancelled, in_the_inbox_transaction(contract_cancelled)),
    ]
