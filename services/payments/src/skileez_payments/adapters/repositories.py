"""Loading and saving contracts and payments with asyncpg, inside the caller's transaction.

Plain SQL on asyncpg's prepared statements (the webhook runs these on every Stripe event; see
bench/README.md). Column names come from `adapters.tables`, the schema Alembic migrates: no
value is ever formatted into SQL, only those names.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Hashable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from skileez_db.connections import IdentityMap, identity_map
from skileez_db.statements import StagedUpdate, entity_of, insert_sql, select_sql, values_of
from skileez_payments.adapters.tables import (
    contract_cancellations,
    contracts,
    payment_reviews,
    payments,
    refund_requests,
)
from skileez_payments.domain.admin_refund import AdminRefund
from skileez_payments.domain.cancellation import CancellationRefundStatus, ContractCancellation
from skileez_payments.domain.contract import PayableContract
from skileez_payments.domain.payment import (
    PAID_STATUSES,
    DisputeOutcome,
    Payment,
    PaymentStatus,
    ReviewDecision,
)
from skileez_payments.domain.review import Review

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
    "charged_amount",
    "charged_currency",
    "charged_livemode",
    "refund_decided",
    "stripe_dispute_id",
    "dispute_outcome",
)
"""The columns a payment's transitions change."""

_PAYMENT_COLUMNS = [column.name for column in payments.c]
_CONTRACT_COLUMNS = [column.name for column in contracts.c if column.name != "learned_at"]

_SELECT_PAYMENT = select_sql(payments, _PAYMENT_COLUMNS)
_LISTING = (
    f"{_SELECT_PAYMENT} WHERE ($1::text IS NULL OR status = $1)"
    " AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))"
    " ORDER BY created_at DESC, id DESC LIMIT $4"
)
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
_PAYMENT_CHANGES = StagedUpdate(payments, _SAVED)
_PAID = ", ".join(f"'{status.value}'" for status in PAID_STATUSES)
"""Inline, not an array parameter: asyncpg's array encoder runs several ABC isinstance checks
per call."""
_PAID_ATTEMPTS = (
    f"{_SELECT_PAYMENT} WHERE contract_id = ANY($1::uuid[]) AND status IN ({_PAID})"
    " AND paid_at IS NOT NULL"
)
"""The attempts that paid their contracts (`Payment.is_paid`). Run once those contracts are
locked: its snapshot, taken then, sees every attempt as committed, and no other transaction can
move one until ours ends."""


@dataclass(frozen=True, slots=True)
class CheckoutSessionKey:
    """A locked payment filed under its Checkout Session."""

    session_id: str


@dataclass(frozen=True, slots=True)
class PaymentIntentKey:
    """A locked payment filed under its PaymentIntent."""

    payment_intent_id: str


class ContractAttempts(dict[uuid.UUID, Payment]):
    """The attempts of a contract this transaction holds: those it locked, and the paid ones
    (read once the contract was locked, they cannot move while it is)."""


class UnreadPaidAttempts(set[uuid.UUID]):
    """Contracts locked here whose paid attempts are not read yet (one statement reads them)."""


def _payment(row: asyncpg.Record) -> Payment:
    payment = entity_of(Payment, row, status=PaymentStatus)
    if payment.dispute_outcome is not None:
        payment.dispute_outcome = DisputeOutcome(payment.dispute_outcome)
    return payment


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

    @property
    def _kept(self) -> IdentityMap:
        """What the transaction holds: its locked payments, filed under every key of theirs."""
        return identity_map(self._connection)

    async def add(self, payment: Payment) -> None:
        await self._connection.execute(_INSERT_PAYMENT, *values_of(payment, _PAYMENT_COLUMNS))

    def save(self, payment: Payment) -> None:
        """Staged: written with the transaction's other payment changes just before it commits.
        Only for a payment this repository locked: the transaction finds it again, by id, by a
        Checkout Session or PaymentIntent it has just gained, and among its contract's attempts,
        in what it keeps, never with SQL (which would not see the change)."""
        if self._kept.get(Payment, payment.id) is not payment:
            raise RuntimeError(f"payment {payment.id} is not locked here: it cannot be saved")
        if payment.changed:
            _PAYMENT_CHANGES.save(self._connection, payment.id, values_of(payment, _SAVED))
            payment.changed = False
            self._file(payment)

    async def get(self, payment_id: uuid.UUID, *, lock: bool = False) -> Payment | None:
        """The payment; `lock` locks it and its contract."""
        if lock:
            return await self._locked(payment_id, ids=[payment_id])
        return await self._one(f"{_SELECT_PAYMENT} WHERE id = $1", payment_id)

    async def by_checkout_session(self, session_id: str) -> Payment | None:
        """The payment of a Checkout Session, locked with its contract."""
        return await self._locked(CheckoutSessionKey(session_id), sessions=[session_id])

    async def by_payment_intent(self, payment_intent_id: str) -> Payment | None:
        """The payment of a PaymentIntent, locked with its contract."""
        return await self._locked(PaymentIntentKey(payment_intent_id), intents=[payment_intent_id])

    async def lock(
        self,
        *,
        sessions: Collection[str] = (),
        intents: Collection[str] = (),
        ids: Collection[uuid.UUID] = (),
    ) -> None:
        """Lock the payments of these Checkout Sessions, PaymentIntents and ids with their
        contracts, in one statement and in the order of the contracts' ids, and keep them in
        the transaction's identity map: `get(..., lock=True)`, `by_checkout_session` and
        `by_payment_intent` then answer without a round trip."""
        if not (sessions or intents or ids):
            return
        keys = (list(sessions), list(intents), list(ids))
        for row in await self._connection.fetch(_LOCK_PAYMENTS, *keys):
            if self._kept.get(ContractAttempts, row["contract_id"]) is None:
                unread = self._kept.get(UnreadPaidAttempts, None)
                if unread is None:
                    self._kept.add(None, unread := UnreadPaidAttempts())
                unread.add(row["contract_id"])
            self._keep(row)

    async def of_contract(self, contract_id: uuid.UUID) -> list[Payment]:
        """Every attempt for the contract, newest first."""
        rows = await self._connection.fetch(
            f"{_SELECT_PAYMENT} WHERE contract_id = $1 ORDER BY created_at DESC", contract_id
        )
        return [_payment(row) for row in rows]

    async def listing(
        self,
        status: PaymentStatus | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[Payment]:
        created_at, payment_id = after if after else (None, None)
        rows = await self._connection.fetch(
            _LISTING, status.value if status else None, created_at, payment_id, limit
        )
        return [_payment(row) for row in rows]

    async def paid_attempt_of(
        self, contract_id: uuid.UUID, *, excluding: uuid.UUID
    ) -> uuid.UUID | None:
        """The id of another attempt of the contract that already took the money, if any; one
        of the contract's payments must be locked here first (`lock`).

        An attempt this transaction keeps is judged as it keeps it (its changes may be staged);
        the others as committed once the contract was locked: the paid attempts of every
        contract locked since the last call are read in one statement, whose snapshot is taken
        after those locks were granted, and none of them can move while the locks are held.
        """
        if unread := self._kept.pop(UnreadPaidAttempts, None):
            for row in await self._connection.fetch(_PAID_ATTEMPTS, list(unread)):
                attempts_of = self._kept.get(ContractAttempts, row["contract_id"])
                assert attempts_of is not None  # filed when the contract was locked
                attempts_of.setdefault(row["id"], _payment(row))
        attempts = self._kept.get(ContractAttempts, contract_id)
        if attempts is None:
            raise RuntimeError(f"no payment of contract {contract_id} is locked here")
        paid = (p.id for p in attempts.values() if p.id != excluding and p.is_paid)
        return next(paid, None)

    async def _one(self, query: str, *args: object) -> Payment | None:
        row = await self._connection.fetchrow(query, *args)
        return _payment(row) if row else None

    async def _locked(
        self,
        key: Hashable,
        *,
        sessions: Collection[str] = (),
        intents: Collection[str] = (),
        ids: Collection[uuid.UUID] = (),
    ) -> Payment | None:
        if (payment := self._kept.get(Payment, key)) is None:
            await self.lock(sessions=sessions, intents=intents, ids=ids)
            payment = self._kept.get(Payment, key)
        return payment

    def _keep(self, row: asyncpg.Record) -> Payment:
        """The transaction's one object for the locked payment."""
        kept = self._kept
        payment = kept.get(Payment, row["id"])
        if payment is None:
            kept.add(row["id"], payment := _payment(row))
        self._file(payment)
        return payment

    def _file(self, payment: Payment) -> None:
        """File a kept payment under its Checkout Session and PaymentIntent, and among its
        contract's attempts."""
        kept = self._kept
        if payment.checkout_session_id is not None:
            kept.add(CheckoutSessionKey(payment.checkout_session_id), payment)
        if payment.payment_intent_id is not None:
            kept.add(PaymentIntentKey(payment.payment_intent_id), payment)
        attempts = kept.get(ContractAttempts, payment.contract_id)
        if attempts is None:
            kept.add(payment.contract_id, attempts := ContractAttempts())
        attempts[payment.id] = payment


_REVIEW_COLUMNS = [column.name for column in payment_reviews.c]
_INSERT_REVIEW = insert_sql(payment_reviews, _REVIEW_COLUMNS)
_REVIEWS_OF = (
    f"{select_sql(payment_reviews, _REVIEW_COLUMNS)} WHERE payment_id = $1 ORDER BY reviewed_at"
)
_SET_REVIEW_REFUND = "UPDATE payment_reviews SET stripe_refund_id = $2 WHERE id = $1"


class ReviewRepository:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def add(self, review: Review) -> None:
        await self._connection.execute(_INSERT_REVIEW, *values_of(review, _REVIEW_COLUMNS))

    async def record_refund(self, review_id: uuid.UUID, stripe_refund_id: str) -> None:
        await self._connection.execute(_SET_REVIEW_REFUND, review_id, stripe_refund_id)

    async def of_payment(self, payment_id: uuid.UUID) -> list[Review]:
        rows = await self._connection.fetch(_REVIEWS_OF, payment_id)
        return [entity_of(Review, row, decision=ReviewDecision) for row in rows]


_REFUND_COLUMNS = [column.name for column in refund_requests.c]
_SELECT_REFUND = f"{select_sql(refund_requests, _REFUND_COLUMNS)} WHERE idempotency_key = $1"
_CLAIM_REFUND = (
    f"{insert_sql(refund_requests, _REFUND_COLUMNS)} ON CONFLICT (idempotency_key) DO NOTHING"
    f" RETURNING {', '.join(_REFUND_COLUMNS)}"
)
"""A concurrent twin waits on the key for our commit, then finds it taken (and reads ours)."""
_ANSWERED = ("stripe_refund_id", "refund_amount", "refund_status", "answered_at")
_ANSWER_REFUND = (
    "UPDATE refund_requests SET "
    + ", ".join(f"{name} = ${n}" for n, name in enumerate(_ANSWERED, start=2))
    + " WHERE idempotency_key = $1 AND stripe_refund_id IS NULL"
)


class RefundRequestRepository:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def get(self, idempotency_key: str) -> AdminRefund | None:
        row = await self._connection.fetchrow(_SELECT_REFUND, idempotency_key)
        return AdminRefund(**row) if row else None

    async def claim(self, request: AdminRefund) -> AdminRefund:
        """Store the request under its key, unless one is stored already: the stored one."""
        row = await self._connection.fetchrow(_CLAIM_REFUND, *values_of(request, _REFUND_COLUMNS))
        if row is None:
            row = await self._connection.fetchrow(_SELECT_REFUND, request.idempotency_key)
            assert row is not None  # a conflict means it is committed
        return AdminRefund(**row)

    async def save_answer(self, request: AdminRefund) -> None:
        await self._connection.execute(
            _ANSWER_REFUND, request.idempotency_key, *values_of(request, _ANSWERED)
        )


_CANCELLATION_COLUMNS = [column.name for column in contract_cancellations.c]
_SELECT_CANCELLATION = (
    f"{select_sql(contract_cancellations, _CANCELLATION_COLUMNS)} WHERE contract_id = $1"
)
_RECORD_CANCELLATION = (
    f"{insert_sql(contract_cancellations, _CANCELLATION_COLUMNS)}"
    " ON CONFLICT (contract_id) DO NOTHING RETURNING contract_id"
)
_CANCELLATION_STATE = (
    "refund_amount",
    "refund_status",
    "payment_id",
    "stripe_refund_id",
    "held_reason",
    "decided_by",
    "decision_note",
    "decided_at",
)
_SAVE_CANCELLATION = (
    "UPDATE contract_cancellations SET "
    + ", ".join(f"{name} = ${n}" for n, name in enumerate(_CANCELLATION_STATE, start=2))
    + " WHERE contract_id = $1"
)
_HELD_CANCELLATIONS = (
    f"{select_sql(contract_cancellations, _CANCELLATION_COLUMNS)}"
    " WHERE refund_status = 'held' ORDER BY received_at LIMIT $1"
)


class CancellationRepository:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def record(self, cancellation: ContractCancellation) -> bool:
        """Store the contract's cancellation; False if one is stored already."""
        values = values_of(cancellation, _CANCELLATION_COLUMNS)
        return await self._connection.fetchval(_RECORD_CANCELLATION, *values) is not None

    async def get(
        self, contract_id: uuid.UUID, *, lock: bool = False
    ) -> ContractCancellation | None:
        query = f"{_SELECT_CANCELLATION} FOR UPDATE" if lock else _SELECT_CANCELLATION
        row = await self._connection.fetchrow(query, contract_id)
        return None if row is None else _cancellation(row)

    async def save(self, cancellation: ContractCancellation) -> None:
        values = values_of(cancellation, _CANCELLATION_STATE)
        await self._connection.execute(_SAVE_CANCELLATION, cancellation.contract_id, *values)

    async def held(self, limit: int) -> list[ContractCancellation]:
        rows = await self._connection.fetch(_HELD_CANCELLATIONS, limit)
        return [_cancellation(row) for row in rows]


def _cancellation(row: asyncpg.Record) -> ContractCancellation:
    return entity_of(ContractCancellation, row, refund_status=CancellationRefundStatus)
