"""Loading and saving contracts and payments with asyncpg, inside the caller's transaction.

Plain SQL on asyncpg's prepared statements (cached per connection): the webhook runs these
on every Stripe event, and SQLAlchemy's execution layer cost five times their CPU there.
Column names come from `adapters.tables`, the schema Alembic migrates: no value is ever
formatted into SQL, only those names.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

import asyncpg

from skileez_events.connections import locked
from skileez_events.statements import entity_of, insert_sql, select_sql, update_sql, values_of
from skileez_payments.adapters.tables import contracts, payments
from skileez_payments.domain.contract import PayableContract
from skileez_payments.domain.payment import PAID_STATUSES, Payment, PaymentStatus

_SAVED = (
    "status",
    "amount_refunded",
    "checkout_session_id",
    "checkout_url",
    "payment_intent_id",
    "paid_at",
    "failure_reason",
    "review_reason",
    "updated_at",
)
"""The columns a payment's transitions change."""

_PAYMENT_COLUMNS = [column.name for column in payments.c]
_CONTRACT_COLUMNS = [column.name for column in contracts.c if column.name != "learned_at"]

_SELECT_PAYMENT = select_sql(payments, _PAYMENT_COLUMNS)
_LOCK_PAYMENTS = (
    f"SELECT {', '.join(f'payments.{name}' for name in _PAYMENT_COLUMNS)}"
    " FROM contracts JOIN payments ON payments.contract_id = contracts.id"
    " WHERE payments.checkout_session_id = ANY($1::text[])"
    " OR payments.payment_intent_id = ANY($2::text[]) OR payments.id = ANY($3::uuid[])"
    " ORDER BY contracts.id, payments.id FOR UPDATE"
)
"""Locks payments with their contracts' rows (`... FOR UPDATE` locks both): whatever moves a
payment holds its contract, so two attempts of one contract paid at once decide one after the
other. Rows are locked as they come out of the sort, in the order of the contracts' ids, and
each row's contract before its payment (the order of the FROM list), so a transaction that
wants any attempt of a contract queues on the contract first."""
_SELECT_CONTRACT = f"{select_sql(contracts, _CONTRACT_COLUMNS)} WHERE id = $1"
_LEARN_CONTRACT = f"{insert_sql(contracts, _CONTRACT_COLUMNS)} ON CONFLICT DO NOTHING"
"""A contract's terms never change: one already known is left as it is."""
_INSERT_PAYMENT = insert_sql(payments, _PAYMENT_COLUMNS)
_UPDATE_PAYMENT = update_sql(payments, _SAVED)
_PAID = ", ".join(f"'{status.value}'" for status in PAID_STATUSES)
"""Inline, not an array parameter: asyncpg's array encoder runs several ABC isinstance checks
per call, which showed as 5% of the webhook's CPU under load."""


def _payment(row: asyncpg.Record) -> Payment:
    return entity_of(Payment, row, status=PaymentStatus)


class ContractRepository:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def learn(self, contract: PayableContract) -> None:
        """Remember the contract, unless it is known already."""
        await self._connection.execute(_LEARN_CONTRACT, *values_of(contract, _CONTRACT_COLUMNS))

    async def get(self, contract_id: uuid.UUID, *, lock: bool = False) -> PayableContract | None:
        query = f"{_SELECT_CONTRACT} FOR UPDATE" if lock else _SELECT_CONTRACT
        row = await self._connection.fetchrow(query, contract_id)
        return PayableContract(**row) if row else None


class PaymentRepository:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def add(self, payment: Payment) -> None:
        await self._connection.execute(_INSERT_PAYMENT, *values_of(payment, _PAYMENT_COLUMNS))

    async def save(self, payment: Payment) -> None:
        if payment.changed:
            values = values_of(payment, _SAVED)
            await self._connection.execute(_UPDATE_PAYMENT, payment.id, *values)
            payment.changed = False

    async def get(self, payment_id: uuid.UUID, *, lock: bool = False) -> Payment | None:
        """The payment; `lock` locks it and its contract."""
        if lock:
            return await self._kept(("payments", payment_id), ids=[payment_id])
        return await self._one(f"{_SELECT_PAYMENT} WHERE id = $1", payment_id)

    async def by_checkout_session(self, session_id: str) -> Payment | None:
        """The payment of a Checkout Session, locked with its contract."""
        return await self._kept(("checkout_sessions", session_id), sessions=[session_id])

    async def by_payment_intent(self, payment_intent_id: str) -> Payment | None:
        """The payment of a PaymentIntent, locked with its contract."""
        return await self._kept(("payment_intents", payment_intent_id), intents=[payment_intent_id])

    async def lock(
        self,
        *,
        sessions: Collection[str] = (),
        intents: Collection[str] = (),
        ids: Collection[uuid.UUID] = (),
    ) -> None:
        """Lock the payments of these Checkout Sessions, PaymentIntents and ids with their
        contracts, in one statement and in the order of the contracts' ids, and keep them in
        the transaction (`connections.locked`): `get(..., lock=True)`, `by_checkout_session`
        and `by_payment_intent` then find them without a round trip."""
        if sessions or intents or ids:
            keys = (list(sessions), list(intents), list(ids))
            for row in await self._connection.fetch(_LOCK_PAYMENTS, *keys):
                self._keep(row)

    async def of_contract(self, contract_id: uuid.UUID) -> list[Payment]:
        """Every attempt for the contract, newest first."""
        rows = await self._connection.fetch(
            f"{_SELECT_PAYMENT} WHERE contract_id = $1 ORDER BY created_at DESC", contract_id
        )
        return [_payment(row) for row in rows]

    async def paid_attempt_of(
        self, contract_id: uuid.UUID, *, excluding: uuid.UUID
    ) -> Payment | None:
        """Another attempt of the contract that already took the money, if any."""
        return await self._one(
            f"{_SELECT_PAYMENT} WHERE contract_id = $1 AND id <> $2 AND status IN ({_PAID})",
            contract_id,
            excluding,
        )

    async def _one(self, query: str, *args: object) -> Payment | None:
        row = await self._connection.fetchrow(query, *args)
        return _payment(row) if row else None

    async def _kept(self, key: tuple[str, object], **lock_by: Collection[Any]) -> Payment | None:
        kept = locked(self._connection)
        if key not in kept:
            await self.lock(**lock_by)
        payment: Payment | None = kept.get(key)
        return payment

    def _keep(self, row: asyncpg.Record) -> Payment:
        """The transaction's one object for the locked payment, also found by its Checkout
        Session and PaymentIntent."""
        kept = locked(self._connection)
        payment: Payment = kept.setdefault(("payments", row["id"]), _payment(row))
        if payment.checkout_session_id is not None:
            kept[("checkout_sessions", payment.checkout_session_id)] = payment
        if payment.payment_intent_id is not None:
            kept[("payment_intents", payment.payment_intent_id)] = payment
        return payment
