"""Refunds asked by an admin: Stripe is asked once per request; the outcome arrives by webhook."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_payments.adapters.stripe_gateway import StripeGateway, StripeJson
from skileez_payments.domain.payment import Payment
from skileez_payments.service_layer.unit_of_work import unit_of_work


class PaymentUnknown(Exception):
    pass


class NotRefundable(Exception):
    def __init__(self, payment: Payment, detail: str) -> None:
        super().__init__(detail)
        self.payment = payment


@dataclass(frozen=True)
class RefundAsked:
    payment: Payment
    refund: StripeJson


async def request_refund(
    engine: AsyncEngine,
    stripe: StripeGateway,
    payment_id: uuid.UUID,
    amount: int | None,
    reason: str | None,
    client_key: str | None,
) -> RefundAsked:
    """Ask Stripe to refund `amount` (all that is left when None) of a paid payment.

    The idempotency key is the client's `Idempotency-Key` when given; otherwise it is derived
    from what is already refunded and the amount asked, so a resubmitted form cannot refund
    twice, while the next refund (after the webhook recorded this one) gets a fresh key.
    """
    async with unit_of_work(engine) as uow:
        payment = await uow.payments.get(payment_id)
    if payment is None:
        raise PaymentUnknown(str(payment_id))
    left = payment.refundable_amount
    if payment.payment_intent_id is None or left == 0:
        raise NotRefundable(payment, f"Payment {payment.id} is {payment.status}: none to refund.")
    if amount is not None and amount > left:
        raise NotRefundable(
            payment, f"At most {left} can still be refunded on payment {payment.id}."
        )
    asked = left if amount is None else amount
    key = (
        f"skileez-refund-{payment.id}-{client_key}"
        if client_key
        else f"skileez-refund-{payment.id}-{payment.amount_refunded}-{asked}"
    )
    refund = await stripe.create_refund(payment.payment_intent_id, asked, reason, key)
    return RefundAsked(payment, refund)
