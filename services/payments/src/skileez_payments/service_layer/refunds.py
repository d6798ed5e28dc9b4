"""Refunds asked by an admin, and payments shown to those they concern."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from skileez_payments.adapters.stripe_gateway import (
    StripeGateway,
    StripeJson,
    StripeRefused,
    StripeUnavailable,
)
from skileez_payments.domain.commands import RequestRefund, Viewer
from skileez_payments.domain.errors import (
    Forbidden,
    PaymentNotFound,
    PaymentProviderRefused,
    PaymentProviderUnavailable,
)
from skileez_payments.domain.payment import Payment
from skileez_payments.service_layer.unit_of_work import UnitOfWork, UnitsOfWork


@dataclass(frozen=True)
class RefundAsked:
    payment: Payment
    refund: StripeJson


async def payment_for(payment_id: uuid.UUID, viewer: Viewer, uow: UnitOfWork) -> Payment:
    """The payment, for its contract's student, its coach or an admin."""
    found = await uow.payments.get(payment_id)
    contract = await uow.contracts.get(found.contract_id) if found else None
    if found is None or contract is None:
        raise PaymentNotFound(payment_id)
    if not viewer.admin and not contract.is_party(viewer.user_id):
        raise Forbidden("This payment is not yours.")
    return found


async def request_refund(
    command: RequestRefund, uows: UnitsOfWork, stripe: StripeGateway
) -> RefundAsked:
    """Ask Stripe once per request to refund a paid payment; the outcome arrives by webhook."""
    async with uows() as uow:
        payment = await uow.payments.get(command.payment_id)
    if payment is None:
        raise PaymentNotFound(command.payment_id)
    asked = payment.refund_request(command.amount, command.client_key)
    try:
        refund = await stripe.create_refund(
            asked.payment_intent_id, asked.amount, command.reason, asked.idempotency_key
        )
    except StripeUnavailable:
        raise PaymentProviderUnavailable("Stripe cannot be reached.") from None
    except StripeRefused as refused:
        raise PaymentProviderRefused(f"Stripe refused: {refused}") from None
    return RefundAsked(payment, refund)
