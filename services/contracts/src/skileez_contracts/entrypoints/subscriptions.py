"""The routing table of incoming events: which event goes to which handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from skileez_contracts.adapters.repositories import ContractRepository
from skileez_contracts.domain.errors import ContractNotFound, PaymentMismatch
from skileez_contracts.service_layer import payments
from skileez_contracts.service_layer.unit_of_work import UnitOfWork
from skileez_events import (
    EventData,
    Incoming,
    PaymentFailed,
    PaymentRefunded,
    PaymentSucceeded,
    Subscription,
    UnprocessableEvent,
)

Record = Callable[[UnitOfWork, Any], Awaitable[None]]
Handler = Callable[[Incoming[Any], asyncpg.Connection], Awaitable[None]]


def _in_the_inbox_transaction(record: Record) -> Handler:
    """Run `record` on the event's data, in the transaction that records the event in the inbox."""

    async def handle(event: Incoming[EventData], connection: asyncpg.Connection) -> None:
        try:
            await record(UnitOfWork(connection, cause=event.envelope), event.data)
        except (ContractNotFound, PaymentMismatch) as error:
            raise UnprocessableEvent(str(error)) from error

    return handle


async def lock_contracts(connection: asyncpg.Connection, events: list[Incoming[Any]]) -> None:
    """Lock ahead, in one statement, the contracts that a batch's payment events are about."""
    await ContractRepository(connection).lock({event.data.contract_id for event in events})


SUBSCRIPTIONS = [
    Subscription(PaymentSucceeded, _in_the_inbox_transaction(payments.record_payment_succeeded)),
    Subscription(PaymentFailed, _in_the_inbox_transaction(payments.record_payment_failed)),
    Subscription(PaymentRefunded, _in_the_inbox_transaction(payments.record_payment_refunded)),
]
