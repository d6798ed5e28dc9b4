"""Refunds asked by an admin, once per Idempotency-Key, and payments shown to those they concern."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from skileez_payments.adapters.stripe_gateway import (
    StripeGateway,
    StripeJson,
    StripeRefused,
    StripeUnavailable,
)
from skileez_payments.domain.admin_refund import AdminRefund, fingerprint_of
from skileez_payments.domain.commands import ListPayments, RequestRefund, Viewer
from skileez_payments.domain.errors import (
    Forbidden,
    NotRefundable,
    PaymentNotFound,
    PaymentProviderRefused,
    PaymentProviderUnavailable,
)
from skileez_payments.domain.payment import Payment
from skileez_payments.service_layer.unit_of_work import UnitOfWork, UnitsOfWork

STRIPE_REFUSES_TO_REFUND = frozenset(
    {"amount_too_large", "charge_already_refunded", "charge_disputed"}
)
"""Stripe's refusals that mean there is nothing (or not that much) to refund: 409, not 502."""


@dataclass(frozen=True)
class RefundAsked:
    payment: Payment
    request: AdminRefund
    """Answered: Stripe's refund is in it."""


async def payment_for(payment_id: uuid.UUID, viewer: Viewer, uow: UnitOfWork) -> Payment:
    """The payment, for its contract's student, its coach or an admin."""
    found = await uow.payments.get(payment_id)
    contract = await uow.contracts.get(found.contract_id) if found else None
    if found is None or contract is None:
        raise PaymentNotFound(payment_id)
    if not viewer.admin and not contract.is_party(viewer.user_id):
        raise Forbidden("This payment is not yours.")
    return found


async def list_payments(command: ListPayments, uow: UnitOfWork) -> list[Payment]:
    """A page of payments for operators (held ones to review, disputed ones...), newest first."""
    return await uow.payments.listing(command.status, command.after, command.limit)


async def request_refund(
    command: RequestRefund,
    uows: UnitsOfWork,
    stripe: StripeGateway,
    clock: Callable[[], datetime],
) -> RefundAsked:
    """Ask Stripe to refund a paid payment, once per Idempotency-Key; the outcome arrives by
    webhook.

    The request is stored under its key before Stripe is asked, with the amount it resolved to
    and a Stripe idempotency key derived from the client's: a retry (after a timeout, or after
    the refund's webhook landed) asks Stripe the same request again, which Stripe answers with
    the same refund, or gets the stored answer without asking. The same key with another
    request is refused.
    """
    fingerprint = fingerprint_of(command.payment_id, command.amount, command.reason)
    async with uows() as uow:
        stored = await uow.refund_requests.get(command.client_key)
        if stored is not None:
            stored.check_same_request(fingerprint)
        payment = await uow.payments.get(command.payment_id)
        if payment is None:
            raise PaymentNotFound(command.payment_id)
        if stored is None:
            asked = payment.refund_request(command.amount, command.client_key)
            assert asked.amount is not None  # an admin's refund resolves to an amount
            stored = await uow.refund_requests.claim(
                AdminRefund(
                    idempotency_key=command.client_key,
                    payment_id=payment.id,
                    fingerprint=fingerprint,
                    amount=asked.amount,
                    reason=command.reason,
                    stripe_idempotency_key=asked.idempotency_key,
                    created_at=clock(),
                )
            )
            stored.check_same_request(fingerprint)  # a concurrent twin may have won the key
    if stored.answered:
        return RefundAsked(payment, stored)
    if payment.payment_intent_id is None:  # refund_request checked it when the key was stored
        raise NotRefundable(f"Payment {payment.id} has no PaymentIntent to refund.")
    refund = await create_refund(
        stripe,
        payment.payment_intent_id,
        stored.amount,
        stored.reason,
        stored.stripe_idempotency_key,
    )
    stored.answer(str(refund["id"]), int(refund["amount"]), str(refund.get("status")), clock())
    async with uows() as uow:
        await uow.refund_requests.save_answer(stored)
    return RefundAsked(payment, stored)


async def create_refund(
    stripe: StripeGateway,
    payment_intent_id: str,
    amount: int | None,
    reason: str | None,
    idempotency_key: str,
) -> StripeJson:
    """The Stripe call every refund goes through (an admin's, a review's), errors translated."""
    try:
        return await stripe.create_refund(payment_intent_id, amount, reason, idempotency_key)
    except StripeUnavailable:
        raise PaymentProviderUnavailable("Stripe cannot be reached.") from None
    except StripeRefused as refused:
        if refused.code in STRIPE_REFUSES_TO_REFUND:
            raise NotRefundable(f"Stripe refused: {refused}") from None
        raise PaymentProviderRefused(f"Stripe refused: {refused}") from None
