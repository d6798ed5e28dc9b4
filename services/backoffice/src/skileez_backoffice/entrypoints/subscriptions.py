"""The routing table: every event of every producer is archived and projected, in the
transaction that records it in the inbox."""

from __future__ import annotations

import asyncpg

from skileez_backoffice.adapters.unit_of_work import PostgresUnitOfWork
from skileez_backoffice.service_layer.projection import receive
from skileez_events import CloudEvent, Subscription, in_unit_of_work
from skileez_events.topology import SUBSCRIPTIONS as TOPOLOGY


def _unit_of_work(connection: asyncpg.Connection, event: CloudEvent) -> PostgresUnitOfWork:
    return PostgresUnitOfWork(connection, event)


in_the_inbox_transaction = in_unit_of_work(_unit_of_work)

SUBSCRIPTIONS = [
    Subscription(model, in_the_inbox_transaction(receive)) for model in TOPOLOGY["backoffice"]
]
