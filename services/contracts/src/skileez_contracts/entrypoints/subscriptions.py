"""The routing table of incoming events: which event goes to which handler."""

from __future__ import annotations

from typing import Any

import asyncpg

from skileez_contracts.adapters.repositories import ContractRepository
from skileez_contracts.adapters.unit_of_work import PostgresUnitOfWork
from skileez_contracts.domain.errors import ContractNotFound, PaymentMismatch
from skileez_contracts.service_layer import payments, sessions
from skileez_events import (
    Incoming,
    PaymentDisputeClosed,
    PaymentDisputed,
    PaymentFailed,
    PaymentProcessing,
    PaymentRefunded,
    PaymentSucceeded,
    SessionBooked,
    SessionCancelled,
    Subscription,
    in_unit_of_work,
)

in_the_inbox_transaction = in_unit_of_work(
    PostgresUnitOfWork, unprocessable=(ContractNotFound, PaymentMismatch)
)
"""A handler run in the transaction that records its event in the inbox; an unknown contract or
a payment that is not the contract's is dead-lettered at once (no retry can apply it)."""


async def lock_contracts(connection: asyncpg.Connection, events: list[Incoming[Any]]) -> None:
    """Lock ahead, in one statement, the contracts that a batch's events are about (a session's
    news then waits for a cancellation of its contract deciding at its quote, or the reverse)."""
    await ContractRepository(connection).lock({event.data.contract_id for event in events})


SUBSCRIPTIONS = [
    Subscription(PaymentSucceeded, in_the_inbox_transaction(payments.record_payment_succeeded)),
    Subscription(PaymentProcessing, in_the_inbox_transaction(payments.record_payment_processing)),
    Subscription(PaymentFailed, in_the_inbox_transaction(payments.record_payment_failed)),
    Subscription(PaymentRefunded, in_the_inbox_transaction(payments.record_payment_refunded)),
    Subscription(PaymentDisputed, in_the_inbox_transaction(payments.record_payment_disputed)),
    Subscription(
        PaymentDisputeClosed, in_the_inbox_transaction(payments.record_payment_dispute_closed)
    ),
    Subscription(SessionBooked, in_the_inbox_transaction(sessions.record_session_booked)),
    Subscription(SessionCancelled, in_the_inbox_transaction(sessions.record_session_cancelled)),
]
