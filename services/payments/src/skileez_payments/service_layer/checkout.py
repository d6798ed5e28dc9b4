"""Paying a contract: its payments page, starting (or reusing) a Checkout Session, and the
customer's return from Checkout.

One contract has one payable session at a time: a session is offered again only once Stripe
says it is still open, and any other that may still take money is expired at Stripe before a
new one is created. Whatever Stripe says instead (paid, processing, expired, unknown) is settled
first, and the decision is taken again."""

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
from skileez_payments.domain.commands import ConfirmCheckout, OpenPaymentPage, StartCheckout, Viewer
from skileez_payments.domain.contract import PayableContract
from skileez_payments.domain.contract_payments import (
    Attempt,
    AwaitedContract,
    Checkout,
    ContractPayments,
    session_abandoned,
)
from skileez_payments.domain.errors import (
    ContractNotFound,
    PaymentProviderRefused,
    PaymentProviderUnavailable,
    SessionNotFound,
)
from skileez_payments.domain.payment import Payment, SessionOutcome
from skileez_payments.service_layer.stripe_events import settle_checkout_session
from skileez_payments.service_layer.unit_of_work import UnitOfWork, UnitsOfWork


@dataclass(frozen=True)
class CheckoutPolicy:
    expiry: timedelta
    success_url: Callable[[uuid.UUID], str]
    """Where Checkout returns after payment; Stripe appends the session id."""
    cancel_url: Callable[[uuid.UUID], str]
    clock: Callable[[], datetime]
    livemode: bool = False
    """Whether the Stripe account is live: a session found paid on the way is checked for it."""


CHECKOUT_PASSES = 5
"""Each pass settles one attempt whose session Stripe sees otherwise than we do (or expires a
stale one); more passes than that in one click means Stripe's answers keep changing."""


async def contract_payments(
    contract_id: uuid.UUID, viewer: Viewer, uow: UnitOfWork
) -> ContractPayments:
    """The contract and its attempts, for its student, its coach or an admin."""
    contract = await uow.contracts.get(contract_id)
    attempts = await uow.payments.of_contract(contract_id) if contract else []
    if contract is None:
        raise ContractNotFound(contract_id)
    payments = ContractPayments(contract, attempts, await uow.cancellations.get(contract_id))
    payments.check_viewer(viewer.user_id, admin=viewer.admin)
    return payments


async def open_payment_page(
    command: OpenPaymentPage, uow: UnitOfWork, now: datetime
) -> ContractPayments | AwaitedContract:
    """The contract's payments; a contract not learnt yet is awaited (its ContractCreated is on
    its way) until `CONTRACT_WAIT` after it was first asked for, then it does not exist."""
    try:
        return await contract_payments(command.contract_id, command.viewer, uow)
    except ContractNotFound:
        awaited = AwaitedContract.since(command.contract_id, command.first_asked, now)
        awaited.check_still_expected(now)
        return awaited


async def start_checkout(
    command: StartCheckout, uows: UnitsOfWork, stripe: StripeGateway, policy: CheckoutPolicy
) -> Checkout:
    """The Checkout page for the contract's student: the open one, else a new one.

    The attempt is written before Stripe is called, so a webhook always finds it, and its id
    makes the idempotency key: a retry or a concurrent click for the same attempt gets the same
    session from Stripe instead of a second one.
    """
    for _ in range(CHECKOUT_PASSES):
        async with uows() as uow:
            contract = await uow.contracts.get(
                command.contract_id, lock=True
            )  # one click at a time
            if contract is None:
                raise ContractNotFound(command.contract_id)
            payments = ContractPayments(
                contract,
                await uow.payments.of_contract(contract.id),
                await uow.cancellations.get(contract.id),
            )
            checkout = payments.checkout(
                command.user_id, policy.clock(), policy.expiry, command.correlation_id
            )
            if checkout.attempt is Attempt.NEW:
                await uow.payments.add(checkout.payment)
        match checkout.attempt:
            case Attempt.STALE:
                await _expire_session(checkout.payment, uows, stripe, policy)
            case Attempt.REUSED:
                if await _still_open(checkout.payment, uows, stripe, policy):
                    return checkout
            case Attempt.NEW | Attempt.RESUMED:
                return await _create_session(contract, checkout, uows, stripe, policy)
    raise PaymentProviderUnavailable("Stripe's answers about this payment keep changing; retry.")


async def _create_session(
    contract: PayableContract,
    checkout: Checkout,
    uows: UnitsOfWork,
    stripe: StripeGateway,
    policy: CheckoutPolicy,
) -> Checkout:
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


async def _still_open(
    payment: Payment, uows: UnitsOfWork, stripe: StripeGateway, policy: CheckoutPolicy
) -> bool:
    """Whether Stripe still takes money in the attempt's session; if not, what it says of the
    session is settled (a missed webhook) or the attempt abandoned (an unknown session)."""
    assert payment.checkout_session_id is not None
    session = await retrieve_session(stripe, payment.checkout_session_id)
    if session is not None and session.status == "open":
        return True
    async with uows() as uow:
        await settle_closed_session(
            payment, session, uow, livemode=policy.livemode, clock=policy.clock
        )
    return False


async def _expire_session(
    payment: Payment, uows: UnitsOfWork, stripe: StripeGateway, policy: CheckoutPolicy
) -> None:
    """Expire at Stripe a session that is not offered again, and settle what it became."""
    session = await expire_session(payment, stripe)
    async with uows() as uow:
        await settle_closed_session(
            payment, session, uow, livemode=policy.livemode, clock=policy.clock
        )


async def expire_session(
    payment: Payment, stripe: StripeGateway
) -> stripe_objects.CheckoutSession | None:
    """Expire the attempt's session at Stripe, so it takes no money: the session as it then is
    (None when Stripe knows no such session). A session that would not expire (paid or
    completed meanwhile) is returned as Stripe has it, to settle."""
    assert payment.checkout_session_id is not None
    try:
        expired = await stripe.expire_checkout_session(payment.checkout_session_id)
    except StripeUnavailable:
        raise PaymentProviderUnavailable("Stripe cannot be reached; please retry.") from None
    except StripeRefused as refused:
        if refused.code == "resource_missing":
            return None
        return await retrieve_session(stripe, payment.checkout_session_id)
    return stripe_objects.CheckoutSession.model_validate(expired)


async def retrieve_session(
    stripe: StripeGateway, session_id: str
) -> stripe_objects.CheckoutSession | None:
    """The session as Stripe has it; None when Stripe knows no such session."""
    try:
        found = await stripe.retrieve_checkout_session(session_id)
    except StripeUnavailable:
        raise PaymentProviderUnavailable("Stripe cannot be reached; please retry.") from None
    except StripeRefused as refused:
        if refused.code == "resource_missing":
            return None
        raise PaymentProviderRefused(f"Stripe refused to show the session: {refused}") from None
    return stripe_objects.CheckoutSession.model_validate(found)


async def settle_closed_session(
    payment: Payment,
    session: stripe_objects.CheckoutSession | None,
    uow: UnitOfWork,
    *,
    livemode: bool,
    clock: Callable[[], datetime],
) -> None:
    """Settle the attempt as its session, no longer open, says; an unknown session, or one
    completed unpaid after the attempt failed, ends the attempt."""
    said = (
        None
        if session is None
        else SessionOutcome.of(session.status, session.payment_status, failed=False)
    )
    if session is not None and not session_abandoned(payment, said):
        await settle_checkout_session(
            session, uow, livemode=livemode, clock=clock, causation_id=None
        )
        return
    await uow.lock_payment_intents([session.payment_intent if session else None])
    saved = await uow.payments.get(payment.id, lock=True)
    if saved is not None and session_abandoned(saved, said):
        reason = "checkout_session_missing" if session is None else "checkout_session_closed"
        saved.abandon_session(reason, clock())
        uow.save(saved)


async def confirm_checkout(
    command: ConfirmCheckout,
    uows: UnitsOfWork,
    stripe: StripeGateway,
    *,
    livemode: bool,
    clock: Callable[[], datetime],
) -> tuple[PayableContract, Payment]:
    """The customer is back from Checkout with one of the contract's sessions: settle the
    payment from the session Stripe gives (before or without the webhook), for the receipt."""
    async with uows() as uow:
        payments = await contract_payments(command.contract_id, command.viewer, uow)
    payments.check_session(command.session_id)
    contract = payments.contract
    try:
        session = stripe_objects.CheckoutSession.model_validate(
            await stripe.retrieve_checkout_session(command.session_id)
        )
    except StripeUnavailable:
        raise PaymentProviderUnavailable("Stripe cannot be reached; please reload.") from None
    except StripeRefused:
        raise SessionNotFound("We found no such payment session.") from None
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
        line=contract.line_of(payment.amount),
        currency=payment.currency,
        success_url=f"{policy.success_url(contract.id)}?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=policy.cancel_url(contract.id),
        expires_at=payment.expires_at,
        idempotency_key=f"skileez-checkout-{payment.id}",
    )
