"""The routing table of incoming events: which event goes to which handler."""

from __future__ import annotations

import asyncpg

from skileez_events import CloudEvent, ContractCreated, Subscription, in_unit_of_work
from skileez_payments.adapters.unit_of_work import PostgresUnitOfWork
from skileez_payments.service_layer.contracts import learn_contract


def _unit_of_work(connection: asyncpg.Connection, _cause: CloudEvent) -> PostgresUnitOfWork:
    return PostgresUnitOfWork(connection)


in_the_inbox_transaction = in_unit_of_work(_unit_of_work)

SUBSCRIPTIONS = [
    Subscription(ContractCreated, in_the_inbox_transaction(learn_contract)),
]
