"""Paying a contract: its payments page, starting (or reusing) a Checkout Session, and the
customer's return from Checkout."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from skileez_payments.adapters import stripe_objects
from skileez_payments.adapters.stripe_gateway import (
    CheckoutRequest,
    StripeGateway,
    StripeRefused,
    StripeUnavailable,
)
from skileez_payments.domain.commands import ConfirmCheckout, StartCheckout, Viewer
from skileez_payments.domain.contract import PayableContract
from skileez_payments.domain.contract_payments import Attempt, Checkout, ContractPayments
from skileez_payments.domain.errors import (
    ContractNotFound,
    PaymentProviderRefused,
    PaymentProviderUnavailable,
    SessionNotFound,
)
from skileez_payments.domain.payment import Payment
from skileez_payments.service_layer.stripe_events import settle_checkout_session
from skileez_payments.service_layer.unit_of_work import UnitOfWork, UnitsOfWork


@dataclass(frozen=True)
class CheckoutPolicy:
    expiry: timedelta
    success_url: Callable[[uuid.UUID], str]
    """Where Checkout returns after payment; Stripe appends the session id."""
    cancel_url: Callable[[uuid.UUID], str]
    clock: Callable[[], datetime]


async def contract_payments(
    contract_id: uuid.UUID, viewer: Viewer, uow: UnitOfWork
) -> ContractPayments:
    """The contract and its attempts, for its student, its coach or an admin."""
    contract = await uow.contracts.get(contract_id)
    attempts = await uow.payments.of_contract(contract_id) if contract else []
    if contract is None:
        raise ContractNotFound(contract_id)
    payments = ContractPayments(contract, attempts)
    payments.check_viewer(viewer.user_id, admin=viewer.admin)
    return payments


async def start_checkout(
    command: StartCheckout, uows: UnitsOfWork, stripe: StripeGateway, policy: CheckoutPolicy
) -> Checkout:
    """The Checkout page for the contract's student: the open one, else a new one.

    The attempt is written before Stripe is called, so a webhook always finds it, and its id
    makes the idempotency key: a retry or a concurrent click for the same attempt gets the same
    session from Stripe instead of a second one.
    """
    now = policy.clock()
    async with uows() as uow:
        contract = await uow.contracts.get(command.contract_id, lock=True)  # one click at a time
        if contract is None:
            raise ContractNotFound(command.contract_id)
        payments = ContractPayments(contract, await uow.payments.of_contract(contract.id))
        checkout = payments.checkout(command.user_id, now, policy.expiry, command.correlation_id)
        if checkout.attempt is Attempt.REUSED:
            return checkout
        if checkout.attempt is Attempt.NEW:
            await uow.payments.add(checkout.payment)
    try:
        session = await stripe.create_checkout_session(_request(policy, contract, checkout.payment))
    except StripeUnavailable:
        raise PaymentProviderUnavailable("Stripe cannot be reached; please retry.") from None
    except StripeRefused as refused:
        raise PaymentProviderRefused(f"Stripe refused the payment: {refused}") from None
    async with uows() as uow:
        saved = await uow.payments.get(checkout.payment.id, lock=True)
        assert saved is not None
        if saved.checkout_url is None:
            saved.attach_session(session["id"], session["url"])
            uow.save(saved)
    return Checkout(saved, checkout.attempt)


async def confirm_checkout(
    command: ConfirmCheckout,
    uows: UnitsOfWork,
    stripe: StripeGateway,
    *,
    livemode: bool,
    clock: Callable[[], datetime],
) -> tuple[PayableContract, Payment]:
    """The customer is back from Checkout: settle the payment from the session Stripe gives
    (before or without the webhook), for the receipt."""
    async with uows() as uow:
        contract = (await contract_payments(command.contract_id, command.viewer, uow)).contract
    try:
        session = stripe_objects.CheckoutSession.model_validate(
            await stripe.retrieve_checkout_session(command.session_id)
        )
    except StripeUnavailable:
        raise PaymentProviderUnavailable("Stripe cannot be reached; please reload.") from None
    except StripeRefused:
        raise SessionNotFound("We found no such payment session.") from None
    if session.client_reference_id != str(contract.id):
        raise SessionNotFound("This payment session is for another contract.")
    async with uows() as uow:
        payment = await settle_checkout_session(
            session, uow, livemode=livemode, clock=clock, causation_id=None
        )
    if payment is None or payment.contract_id != contract.id:
        raise SessionNotFound("This payment session is not one of ours.")
    return contract, payment


def _request(
    policy: CheckoutPolicy, contract: PayableContract, payment: Payment
) -> CheckoutRequest:
    return CheckoutRequest(
        contract_id=str(contract.id),
        payment_id=str(payment.id),
        title=contract.title,
        amount=payment.amount,
        currency=payment.currency,
        success_url=f"{policy.success_url(contract.id)}?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=policy.cancel_url(contract.id),
        expires_at=payment.expires_at,
        idempotency_key=f"skileez-checkout-{payment.id}",
    )
