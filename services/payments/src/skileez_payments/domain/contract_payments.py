"""A contract's payments: who may pay, when an attempt starts or is reused, paid only once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from skileez_payments.domain.contract import PayableContract
from skileez_payments.domain.errors import AlreadyPaid, Forbidden, PaymentInProgress
from skileez_payments.domain.payment import PAID_STATUSES, SETTLING_STATUSES, Payment, PaymentStatus

REUSE_MARGIN_SECONDS = 300
"""A session about to expire is not offered again: the customer needs time to pay."""

RESUME_WINDOW = timedelta(seconds=60)
"""How long an attempt written before its session was created may be resumed (a retry)."""


class Attempt(Enum):
    REUSED = "reused"
    """Its Checkout page is still usable: offered again."""
    RESUMED = "resumed"
    """Written moments ago but not given its session yet (a concurrent click, a retry)."""
    NEW = "new"


@dataclass(frozen=True)
class Checkout:
    payment: Payment
    attempt: Attempt


@dataclass
class ContractPayments:
    """The contract and every attempt to pay it, newest first."""

    contract: PayableContract
    attempts: list[Payment]

    def may_see(self, user_id: str, *, admin: bool) -> bool:
        return admin or self.contract.is_party(user_id)

    def check_viewer(self, user_id: str, *, admin: bool) -> None:
        if not self.may_see(user_id, admin=admin):
            raise Forbidden("This contract is not yours.")

    def may_pay(self, user_id: str) -> bool:
        """Only the contract's student pays it."""
        return user_id == self.contract.student_id

    @property
    def paid(self) -> Payment | None:
        return next((attempt for attempt in self.attempts if attempt.is_paid), None)

    @property
    def processing(self) -> Payment | None:
        return next((attempt for attempt in self.attempts if attempt.is_processing), None)

    def check_payable(self) -> None:
        """Refuse a new payment while one succeeded or is settling."""
        for attempt in self.attempts:
            if attempt.status in PAID_STATUSES:
                raise AlreadyPaid(attempt.id)
            if attempt.status in SETTLING_STATUSES:
                raise PaymentInProgress(attempt.id)

    def checkout(
        self, user_id: str, now: datetime, expiry: timedelta, correlation_id: str
    ) -> Checkout:
        """The attempt the student pays with: the open one, a resumable one, else a new one.

        A new attempt keeps the checkout request's correlation id: the events its outcome
        causes (PaymentSucceeded, then ContractActivated) carry it.
        """
        if not self.may_pay(user_id):
            raise Forbidden("Only the contract's student can pay it.")
        self.check_payable()
        for attempt in self.attempts:
            if attempt.is_reusable(now, REUSE_MARGIN_SECONDS):
                return Checkout(attempt, Attempt.REUSED)
        for attempt in self.attempts:
            if _interrupted(attempt, now):
                return Checkout(attempt, Attempt.RESUMED)
        payment = _new_attempt(self.contract, now, expiry, correlation_id)
        self.attempts.insert(0, payment)
        return Checkout(payment, Attempt.NEW)


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
        # Whole seconds, rounded up with the resume window as slack, so that the session is
        # never created with less than the configured lifetime (Stripe wants 30 min at least).
        expires_at=(now + expiry + RESUME_WINDOW + timedelta(seconds=1)).replace(microsecond=0),
        created_at=now,
        updated_at=now,
    )
