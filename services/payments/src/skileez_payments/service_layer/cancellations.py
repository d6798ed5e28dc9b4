"""A contract cancelled (ContractCancelled): it takes no more payments, any Checkout Session of
it still open is expired at Stripe, and what the cancellation owes goes back to the student.

Runs in the transaction that records the event in the inbox, so it applies once; Stripe is
asked under one idempotency key per cancellation, so a replay after a crash refunds once too.
Stripe out of reach raises (the event is retried); a refund Stripe refuses is held for an
operator (`decide_held_refund`), never retried by itself.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from skileez_events import ContractCancelled
from skileez_payments.adapters.stripe_gateway import (
    StripeGateway,
    StripeRefused,
    StripeUnavailable,
)
from skileez_payments.domain.cancellation import ContractCancellation, RefundDecision
from skileez_payments.domain.commands import Viewer
from skileez_payments.domain.errors import (
    ContractNotFound,
    Forbidden,
    NotCancelled,
    PaymentProviderUnavailable,
)
from skileez_payments.domain.payment import Payment
from skileez_payments.service_layer.checkout import expire_session, settle_closed_session
from skileez_payments.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

SYSTEM = "system"
"""`cancelled_by` when a payment's outcome (a full refund, a lost dispute) ended the contract."""


@dataclass(frozen=True)
class Refunding:
    """What cancellations need: Stripe, the account's mode (to settle a session found paid),
    and the clock."""

    stripe: StripeGateway
    livemode: bool
    clock: Callable[[], datetime]


async def end_contract(cancelled: ContractCancelled, uow: UnitOfWork, refunding: Refunding) -> None:
    """Record the cancellation (once per contract), expire the contract's open sessions, and
    refund what it owes from the payment that paid it.

    Contracts counts `payment_id` as the contract's payment; a payment that took money for it
    without contracts knowing (a card paid while the contract was being withdrawn) is owed
    back whole. A session paid while it was being expired is held for review instead (the
    contract is cancelled by then), to be refunded by a person.
    """
    cancellation = ContractCancellation(
        contract_id=cancelled.contract_id,
        cancelled_at=cancelled.cancelled_at,
        cancelled_by=cancelled.cancelled_by,
        reason=cancelled.reason,
        refund_amount=cancelled.refund_amount,
        received_at=refunding.clock(),
    )
    if not await uow.cancellations.record(cancellation):
        return
    attempts = await uow.payments.of_contract(cancelled.contract_id)
    for attempt in attempts:
        if attempt.offers_session:
            session = await expire_session(attempt, refunding.stripe)
            await settle_closed_session(
                attempt, session, uow, livemode=refunding.livemode, clock=refunding.clock
            )
    # Locked after the sessions were settled (each took its PaymentIntent's lock first, as a
    # webhook does), so a webhook of this contract now waits for our commit.
    await uow.payments.lock(ids=[attempt.id for attempt in attempts])
    locked = [await uow.payments.get(attempt.id, lock=True) for attempt in attempts]
    paid = next((p for p in locked if p is not None and p.is_paid), None)
    if paid is not None and paid.id != cancelled.payment_id and cancelled.cancelled_by != SYSTEM:
        cancellation.refund_amount = paid.refundable_amount
        log.warning(
            "payment %s paid contract %s, cancelled before it was counted: refunded whole",
            paid.id,
            cancelled.contract_id,
        )
    await _ask_refund(cancellation, paid, refunding.stripe)
    await uow.cancellations.save(cancellation)


async def decide_held_refund(
    contract_id: uuid.UUID,
    decision: RefundDecision,
    note: str,
    operator: str,
    uow: UnitOfWork,
    refunding: Refunding,
) -> ContractCancellation:
    """An operator's decision on a held cancellation refund: retry it at Stripe (once its
    cause is gone: a dispute won, say), which holds it again if Stripe still refuses, or drop
    it (a dispute lost already gave the money back)."""
    cancellation = await uow.cancellations.get(contract_id, lock=True)
    if cancellation is None:
        raise NotCancelled(f"Contract {contract_id} is not cancelled.")
    cancellation.decide(decision, note, operator, refunding.clock())
    if decision is RefundDecision.RETRY:
        attempts = await uow.payments.of_contract(contract_id)
        paid = next((p for p in attempts if p.id == cancellation.payment_id), None)
        paid = paid or next((p for p in attempts if p.is_paid), None)
        await _ask_refund(cancellation, paid, refunding.stripe)
    await uow.cancellations.save(cancellation)
    return cancellation


async def cancellation_of(
    contract_id: uuid.UUID, viewer: Viewer, uow: UnitOfWork
) -> ContractCancellation:
    """The contract's cancellation, for its student, its coach or an admin."""
    contract = await uow.contracts.get(contract_id)
    if contract is None and not viewer.admin:
        raise ContractNotFound(contract_id)
    if contract is not None and not viewer.admin and not contract.is_party(viewer.user_id):
        raise Forbidden("This contract is not yours.")
    cancellation = await uow.cancellations.get(contract_id)
    if cancellation is None:
        raise NotCancelled(f"Contract {contract_id} is not cancelled.")
    return cancellation


async def held_refunds(uow: UnitOfWork, limit: int) -> list[ContractCancellation]:
    """The cancellation refunds Stripe refused, waiting for an operator, oldest first."""
    return await uow.cancellations.held(limit)


async def _ask_refund(
    cancellation: ContractCancellation, paid: Payment | None, stripe: StripeGateway
) -> None:
    """Ask Stripe for the refund the cancellation owes; a refusal holds it for an operator."""
    asked = cancellation.refund_from(paid)
    if asked is None:
        return
    try:
        refund = await stripe.create_refund(
            asked.payment_intent_id,
            asked.amount,
            "requested_by_customer",
            asked.idempotency_key,
        )
    except StripeUnavailable:
        raise PaymentProviderUnavailable("Stripe cannot be reached.") from None
    except StripeRefused as refused:
        log.warning("refund of cancelled contract %s held: %s", cancellation.contract_id, refused)
        cancellation.hold(f"Stripe refused ({refused.code or 'refused'}): {refused}")
        return
    cancellation.refunded(str(refund["id"]))
