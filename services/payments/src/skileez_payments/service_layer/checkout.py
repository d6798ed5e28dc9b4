"""Starting a payment: reuse the open Checkout Session, or create one attempt and its session."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_payments.adapters.stripe_gateway import CheckoutRequest, StripeGateway
from skileez_payments.domain.contract import PayableContract
from skileez_payments.domain.payment import (
    PAID_STATUSES,
    SETTLING_STATUSES,
    Payment,
    PaymentStatus,
)
from skileez_payments.service_layer.unit_of_work import unit_of_work

REUSE_MARGIN_SECONDS = 300
"""A session about to expire is not offered again: the customer needs time to pay."""

RESUME_WINDOW = timedelta(seconds=60)


class ContractUnknown(Exception):
    pass


class NotTheStudent(Exception):
    pass


class AlreadyPaid(Exception):
    def __init__(self, payment: Payment) -> None:
        super().__init__(f"contract already paid by payment {payment.id}")
        self.payment = payment


class PaymentInProgress(Exception):
    def __init__(self, payment: Payment) -> None:
        super().__init__(f"payment {payment.id} is {payment.status}")
        self.payment = payment


@dataclass(frozen=True)
class CheckoutPolicy:
    payments_url: str
    expiry: timedelta
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class Checkout:
    payment: Payment
    reused: bool


async def start_checkout(
    engine: AsyncEngine,
    stripe: StripeGateway,
    policy: CheckoutPolicy,
    contract_id: uuid.UUID,
    user_id: str,
    correlation_id: str,
) -> Checkout:
    """The Checkout page for the contract's student: the open one, else a new one.

    A new attempt keeps the checkout request's correlation id: the events its outcome causes
    (PaymentSucceeded, then ContractActivated) carry it.

    The attempt is written before Stripe is called, so a webhook always finds it, and its id
    makes the idempotency key: a retry or a concurrent click for the same attempt gets the same
    session from Stripe instead of a second one.
    """
    now = policy.clock()
    async with unit_of_work(engine) as uow:
        contract = await uow.contracts.get(contract_id, lock=True)  # one Pay click at a time
        if contract is None:
            raise ContractUnknown(str(contract_id))
        if contract.student_id != user_id:
            raise NotTheStudent(user_id)
        attempts = await uow.payments.of_contract(contract_id)
        check_payable(attempts)
        for attempt in attempts:
            if attempt.is_reusable(now, REUSE_MARGIN_SECONDS):
                return Checkout(attempt, reused=True)
        payment = next((a for a in attempts if _interrupted(a, now)), None)
        if payment is None:
            payment = _new_attempt(contract, now, policy.expiry, correlation_id)
            await uow.payments.add(payment)
    session = await stripe.create_checkout_session(_request(policy, contract, payment))
    async with unit_of_work(engine) as uow:
        saved = await uow.payments.get(payment.id, lock=True)
        assert saved is not None
        if saved.checkout_url is None:
            saved.attach_session(session["id"], session["url"])
            uow.save(saved)
    return Checkout(saved, reused=False)


def check_payable(attempts: list[Payment]) -> None:
    """Refuse a new payment while one succeeded or is settling."""
    for attempt in attempts:
        if attempt.status in PAID_STATUSES:
            raise AlreadyPaid(attempt)
        if attempt.status in SETTLING_STATUSES:
            raise PaymentInProgress(attempt)


def _interrupted(attempt: Payment, now: datetime) -> bool:
    """An attempt just written but not yet given its session (a concurrent click, a retry).

    Only a recent one is resumed: its idempotency key must still find the same request at
    Stripe, and its `expires_at` must still satisfy Stripe's 30-minute minimum.
    """
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


def _request(
    policy: CheckoutPolicy, contract: PayableContract, payment: Payment
) -> CheckoutRequest:
    base = f"{policy.payments_url.rstrip('/')}/contracts/{contract.id}"
    return CheckoutRequest(
        contract_id=str(contract.id),
        payment_id=str(payment.id),
        title=contract.title,
        amount=payment.amount,
        currency=payment.currency,
        success_url=f"{base}/payment-success?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{base}/payment-cancel",
        expires_at=payment.expires_at,
        idempotency_key=f"skileez-checkout-{payment.id}",
    )
