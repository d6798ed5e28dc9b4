"""Loading and saving contracts and payments with SQLAlchemy Core, inside the caller's session."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

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


# Built once, executed with a parameter dict: skips SQLAlchemy's per-call construction,
# coercion and cache-key generation of the statements a webhook runs (a tenth of its CPU).
_SELECT_LOCKED_BY_ID = select(payments).where(payments.c.id == bindparam("key")).with_for_update()
_SELECT_BY_ID = select(payments).where(payments.c.id == bindparam("key"))
_SELECT_BY_SESSION = (
    select(payments).where(payments.c.checkout_session_id == bindparam("key")).with_for_update()
)
_SELECT_BY_INTENT = (
    select(payments).where(payments.c.payment_intent_id == bindparam("key")).with_for_update()
)
_SELECT_PAID_OTHER = select(payments).where(
    payments.c.contract_id == bindparam("contract_id"),
    payments.c.id != bindparam("excluding"),
    payments.c.status.in_([status.value for status in PAID_STATUSES]),
)
_UPDATE = (
    update(payments)
    .where(payments.c.id == bindparam("payment_id"))
    .values({name: bindparam(f"new_{name}") for name in _SAVED})
)


def _payment(row: Row[Any]) -> Payment:
    values = dict(row._mapping)
    values["status"] = PaymentStatus(values["status"])
    return Payment(**values)


class ContractRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, contract: PayableContract) -> bool:
        """Learn a contract; False if it was already known (its terms never change)."""
        result = await self._session.execute(
            pg_insert(contracts)
            .values(**contract.__dict__)
            .on_conflict_do_nothing()
            .returning(contracts.c.id)
        )
        return result.first() is not None

    async def get(self, contract_id: uuid.UUID, *, lock: bool = False) -> PayableContract | None:
        query = select(*[c for c in contracts.c if c.name != "learned_at"]).where(
            contracts.c.id == contract_id
        )
        row = (await self._session.execute(query.with_for_update() if lock else query)).first()
        return PayableContract(**row._mapping) if row else None


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, payment: Payment) -> None:
        values = {c.name: getattr(payment, c.name) for c in payments.c}
        await self._session.execute(insert(payments).values(**values))

    async def save(self, payment: Payment) -> None:
        if payment.changed:
            values = {f"new_{name}": getattr(payment, name) for name in _SAVED}
            await self._session.execute(_UPDATE, {"payment_id": payment.id, **values})
            payment.changed = False

    async def get(self, payment_id: uuid.UUID, *, lock: bool = False) -> Payment | None:
        return await self._one(_SELECT_LOCKED_BY_ID if lock else _SELECT_BY_ID, key=payment_id)

    async def by_checkout_session(self, session_id: str) -> Payment | None:
        return await self._one(_SELECT_BY_SESSION, key=session_id)

    async def by_payment_intent(self, payment_intent_id: str) -> Payment | None:
        return await self._one(_SELECT_BY_INTENT, key=payment_intent_id)

    async def of_contract(self, contract_id: uuid.UUID) -> list[Payment]:
        """Every attempt for the contract, newest first."""
        rows = await self._session.execute(
            select(payments)
            .where(payments.c.contract_id == contract_id)
            .order_by(payments.c.created_at.desc())
        )
        return [_payment(row) for row in rows]

    async def paid_attempt_of(
        self, contract_id: uuid.UUID, *, excluding: uuid.UUID
    ) -> Payment | None:
        """Another attempt of the contract that already took the money, if any."""
        return await self._one(_SELECT_PAID_OTHER, contract_id=contract_id, excluding=excluding)

    async def _one(self, statement: Any, **params: Any) -> Payment | None:
        row = (await self._session.execute(statement, params)).first()
        return _payment(row) if row else None
