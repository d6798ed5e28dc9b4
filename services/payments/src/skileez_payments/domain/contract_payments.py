"""A contract's payments: who may pay, when an attempt starts or is reused, paid only once,
one payable Checkout Session at a time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Self

from skileez_payments.domain.cancellation import ContractCancellation
from skileez_payments.domain.contract import PayableContract
from skileez_payments.domain.errors import (
    AlreadyPaid,
    ContractClosed,
    ContractNotFound,
    Forbidden,
    PaymentInProgress,
    SessionNotFound,
)
from skileez_payments.domain.payment import (
    SETTLING_STATUSES,
    Payment,
    PaymentStatus,
    SessionOutcome,
)

REUSE_MARGIN_SECONDS = 300
"""A session about to expire is not offered again: the customer needs time to pay."""

RESUME_WINDOW = timedelta(seconds=60)
"""How long an attempt written before its session was created may be resumed (a retry)."""

LONGEST_CHECKOUT = timedelta(hours=24)
"""Stripe's limit on a Checkout Session's lifetime."""

CONTRACT_WAIT = timedelta(seconds=30)
"""How long a pay page waits for a contract payments has not learnt yet, from when it was first
asked for. ContractCreated normally arrives within a second of the contract's creation; 30 s
covers a broker or relay restart, and past it the contract is taken not to exist (a real 404)."""


class Attempt(Enum):
    REUSED = "reused"
    """Its Checkout page is still usable: offered again."""
    RESUMED = "resumed"
    """Written moments ago but not given its session yet (a concurrent click, a retry)."""
    NEW = "new"
    STALE = "stale"
    """Its session may still take money but is not the one offered: Stripe must expire it
    before the customer is sent anywhere, so that one contract has one payable session."""


class Standing(Enum):
    """Where a contract's payment stands, as its pages tell the student."""

    UNPAID = "unpaid"
    PROCESSING = "processing"
    """A delayed payment method (a bank debit) has not cleared yet."""
    HELD = "held"
    """Money arrived that a person must look at before the contract is activated."""
    PAID = "paid"
    REFUNDED = "refunded"
    DISPUTED = "disputed"
    CANCELLED = "cancelled"
    """Cancelled with no money taken (withdrawn): nothing to pay, ever."""


@dataclass(frozen=True)
class Checkout:
    payment: Payment
    attempt: Attempt


@dataclass
class ContractPayments:
    """The contract and every attempt to pay it, newest first."""

    contract: PayableContract
    attempts: list[Payment]
    cancellation: ContractCancellation | None = None
    """Set once the contract was cancelled: it can no longer be paid."""

    def may_see(self, user_id: str, *, admin: bool) -> bool:
        return admin or self.contract.is_party(user_id)

    def check_viewer(self, user_id: str, *, admin: bool) -> None:
        if not self.may_see(user_id, admin=admin):
            raise Forbidden("This contract is not yours.")

    def check_session(self, session_id: str) -> None:
        """Refuse a Checkout Session that is not one of the contract's attempts, before Stripe
        is asked about it: no caller makes payments call Stripe for any session id they like."""
        if not any(attempt.checkout_session_id == session_id for attempt in self.attempts):
            raise SessionNotFound("We found no such payment session for this contract.")

    def may_pay(self, user_id: str) -> bool:
        """Only the contract's student pays it."""
        return user_id == self.contract.student_id

    @property
    def paid(self) -> Payment | None:
        return next((attempt for attempt in self.attempts if attempt.is_paid), None)

    @property
    def processing(self) -> Payment | None:
        return next((attempt for attempt in self.attempts if attempt.is_processing), None)

    @property
    def standing(self) -> Standing:
        return self.where_it_stands()[0]

    def where_it_stands(self) -> tuple[Standing, Payment | None]:
        """Where the contract's payment stands, and the attempt that says so. The paid attempt
        decides (a held duplicate of a paid contract changes nothing); without one, money held
        or on its way is never called "no money taken", and a held payment sent back leaves the
        contract to pay, as contracts sees it."""
        if (paid := self.paid) is not None:
            if paid.status is PaymentStatus.DISPUTED:
                return Standing.DISPUTED, paid
            if paid.status is PaymentStatus.REFUNDED:
                return Standing.REFUNDED, paid
            return Standing.PAID, paid
        for status, standing in (
            (PaymentStatus.HELD_FOR_REVIEW, Standing.HELD),
            (PaymentStatus.PROCESSING, Standing.PROCESSING),
            (PaymentStatus.DISPUTED, Standing.DISPUTED),
        ):
            if (
                attempt := next((a for a in self.attempts if a.status is status), None)
            ) is not None:
                return standing, attempt
        if self.cancellation is not None:
            return Standing.CANCELLED, None
        return Standing.UNPAID, None

    def check_payable(self) -> None:
        """Refuse a new payment while one succeeded or is settling, or once the contract was
        cancelled."""
        if self.cancellation is not None:
            raise ContractClosed(self.contract.id)
        for attempt in self.attempts:
            if attempt.is_paid:
                raise AlreadyPaid(attempt.id)
            if attempt.status in SETTLING_STATUSES:
                raise PaymentInProgress(attempt.id)

    def checkout(
        self, user_id: str, now: datetime, expiry: timedelta, correlation_id: str
    ) -> Checkout:
        """The attempt the student pays with: the open one, a resumable one, else a new one;
        but first any other whose session may still take money (`Attempt.STALE`), to expire.

        A new attempt keeps the checkout request's correlation id: the events its outcome
        causes (PaymentSucceeded, then ContractActivated) carry it.
        """
        if not self.may_pay(user_id):
            raise Forbidden("Only the contract's student can pay it.")
        self.check_payable()
        reusable = next(
            (a for a in self.attempts if a.is_reusable(now, REUSE_MARGIN_SECONDS)), None
        )
        for attempt in self.attempts:
            if attempt.offers_session and attempt is not reusable:
                return Checkout(attempt, Attempt.STALE)
        if reusable is not None:
            return Checkout(reusable, Attempt.REUSED)
        for attempt in self.attempts:
            if _interrupted(attempt, now):
                return Checkout(attempt, Attempt.RESUMED)
        payment = _new_attempt(self.contract, now, expiry, correlation_id)
        self.attempts.insert(0, payment)
        return Checkout(payment, Attempt.NEW)


def session_abandoned(attempt: Payment, said: SessionOutcome | None) -> bool:
    """Whether what Stripe says of an attempt's session (None: it knows no such session)
    leaves the attempt nothing but to end: an unknown session, or one completed unpaid after
    the attempt failed (its delayed payment failed). Anything else is settled as it says."""
    if said is None:
        return True
    return attempt.status is PaymentStatus.FAILED and said is SessionOutcome.AWAITING_PAYMENT


@dataclass(frozen=True)
class AwaitedContract:
    """A contract asked for before payments learnt it: ContractCreated is on its way."""

    contract_id: uuid.UUID
    first_asked: datetime

    @classmethod
    def since(cls, contract_id: uuid.UUID, first_asked: datetime | None, now: datetime) -> Self:
        """Waited for since `first_asked` (never later than now), or from now."""
        return cls(contract_id, now if first_asked is None else min(first_asked, now))

    def check_still_expected(self, now: datetime) -> None:
        """Past `CONTRACT_WAIT`, a contract nobody told payments of does not exist."""
        if now - self.first_asked >= CONTRACT_WAIT:
            raise ContractNotFound()


def _interrupted(attempt: Payment, now: datetime) -> bool:
    """Only a recent one is resumed: its idempotency key must still find the same request at
    Stripe, and its `expires_at` must still satisfy Stripe's 30-minute minimum."""
    return (
        attempt.status is PaymentStatus.OPEN
        and attempt.checkout_url is None
        and now - attempt.created_at < RESUME_WINDOW
    )


def _new_attempt(
    contract: PayableContract, now: datetime, expiry: timedelta, correlation_id: str
) -> Payment:
    return Payment(
        id=uuid.uuid4(),
        contract_id=contract.id,
        amount=contract.amount,
        currency=contract.currency,
        correlation_id=correlation_id,
        # Whole seconds, with the resume window as slack, so that the session is never created
        # with less than the configured lifetime (Stripe wants 30 min at least), nor more than
        # Stripe's 24 h after the session is created (later than now).
        expires_at=min(
            now + expiry + RESUME_WINDOW + timedelta(seconds=1), now + LONGEST_CHECKOUT
        ).replace(microsecond=0),
        created_at=now,
        updated_at=now,
    )
