"""Reviews of held payments: a person approves one (it pays the contract) or sends its whole
charge back; every decision is recorded with who took it, when, and why."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

from skileez_payments.adapters.stripe_gateway import StripeGateway, StripeJson
from skileez_payments.domain.commands import ReviewPayment
from skileez_payments.domain.errors import PaymentNotFound
from skileez_payments.domain.payment import Payment, RefundRequest, ReviewDecision
from skileez_payments.domain.review import Review
from skileez_payments.service_layer.refunds import create_refund
from skileez_payments.service_layer.stripe_events import Clock
from skileez_payments.service_layer.unit_of_work import UnitOfWork, UnitsOfWork


@dataclass(frozen=True)
class ReviewPolicy:
    livemode: bool
    """The mode of our Stripe key: a charge of the other mode is never approved."""
    clock: Clock


@dataclass(frozen=True)
class Reviewed:
    review: Review
    payment: Payment
    refund: StripeJson | None = None
    """Stripe's refund, for a `refund` decision."""


async def review_payment(
    command: ReviewPayment, uows: UnitsOfWork, stripe: StripeGateway, policy: ReviewPolicy
) -> Reviewed:
    """Decide a held payment. Approve: it succeeds and pays the contract (PaymentSucceeded), in
    the transaction that records the review. Refund: the decision is recorded (the payment can
    no longer be approved), then Stripe is asked to refund the whole charge under one
    idempotency key, so asking again refunds once; the payment is `refunded` when Stripe's
    `charge.refunded` arrives."""
    async with uows() as uow:
        payment = await uow.payments.get(command.payment_id, lock=True)
        if payment is None:
            raise PaymentNotFound(command.payment_id)
        now = policy.clock()
        paid_by = await uow.payments.paid_attempt_of(payment.contract_id, excluding=payment.id)
        asked: RefundRequest | None = None
        if command.decision is ReviewDecision.APPROVE:
            cancelled = await uow.cancellations.get(payment.contract_id)
            payment.approve(
                policy.livemode,
                now,
                contract_paid_by=paid_by,
                contract_cancelled=cancelled is not None,
            )
        else:
            asked = payment.decide_refund()
        review = Review(
            id=uuid.uuid4(),
            payment_id=payment.id,
            decision=command.decision,
            note=command.note,
            reviewer=command.reviewer,
            reviewed_at=now,
        )
        await uow.reviews.add(review)
        uow.save(payment, causation_id=f"review:{review.id}")
    if asked is None:
        return Reviewed(review, payment)
    refund = await create_refund(
        stripe,
        asked.payment_intent_id,
        asked.amount,
        "duplicate" if paid_by is not None else None,
        asked.idempotency_key,
    )
    async with uows() as uow:
        await uow.reviews.record_refund(review.id, str(refund["id"]))
    recorded = dataclasses.replace(review, stripe_refund_id=str(refund["id"]))
    return Reviewed(recorded, payment, refund)


async def reviews_of(payment_id: uuid.UUID, uow: UnitOfWork) -> list[Review]:
    """A payment's reviews, oldest first (admins)."""
    if await uow.payments.get(payment_id) is None:
        raise PaymentNotFound(payment_id)
    return await uow.reviews.of_payment(payment_id)
