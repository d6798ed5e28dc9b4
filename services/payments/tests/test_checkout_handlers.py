"""Checkout against the in-memory fakes: one payable session per contract, sessions Stripe has
completed or forgotten never offered again, and the pay page of a contract on its way."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from skileez_payments.adapters import stripe_objects
from skileez_payments.domain.commands import OpenPaymentPage, StartCheckout, Viewer
from skileez_payments.domain.contract_payments import (
    CONTRACT_WAIT,
    Attempt,
    AwaitedContract,
    Checkout,
    ContractPayments,
    Standing,
)
from skileez_payments.domain.errors import AlreadyPaid, ContractNotFound, PaymentInProgress
from skileez_payments.domain.payment import (
    PAID_STATUSES,
    Failed,
    Payment,
    PaymentStatus,
    Succeeded,
)
from skileez_payments.service_layer.checkout import (
    CheckoutPolicy,
    open_payment_page,
    start_checkout,
)
from skileez_payments.service_layer.stripe_events import process_stripe_event

from . import stripe_payloads as sp
from .fakes import FakeStripe, FakeUnitsOfWork, complete
from .test_handlers import LINKS, NOW, STUDENT, contract


def policy(at: datetime = NOW) -> CheckoutPolicy:
    return CheckoutPolicy(
        expiry=timedelta(minutes=30),
        success_url=LINKS.payment_success,
        cancel_url=LINKS.payment_cancel,
        clock=lambda: at,
    )


class World:
    """A contract payments knows, the fakes, and the checkout and webhook handlers on them."""

    def __init__(self) -> None:
        self.uows = FakeUnitsOfWork()
        self.stripe = FakeStripe()
        self.contract = contract()
        self.uows.database.contracts.known[self.contract.id] = self.contract

    @property
    def outbox(self) -> list[type]:
        return [type(published.event) for published in self.uows.database.outbox]

    async def checkout(self, at: datetime = NOW) -> Checkout:
        command = StartCheckout(self.contract.id, STUDENT, "corr-1")
        return await start_checkout(command, self.uows, self.stripe, policy(at))

    def stripe_session(self, payment: Payment) -> dict[str, Any]:
        """The session as the fake Stripe holds it (tests change it as Stripe would)."""
        assert payment.checkout_session_id is not None
        return self.stripe.sessions[payment.checkout_session_id]

    async def deliver(self, event_type: str, obj: dict[str, Any]) -> str:
        event = sp.event(event_type, obj)
        async with self.uows() as uow:
            return await process_stripe_event(
                stripe_objects.Event.model_validate(event),
                uow,
                payload=json.dumps(event).encode(),
                source="webhook",
                livemode=False,
                clock=lambda: NOW,
            )

    def session_event(self, payment: Payment, **fields: Any) -> dict[str, Any]:
        return sp.checkout_session(
            payment.checkout_session_id or "cs_unknown",
            contract_id=str(self.contract.id),
            payment_id=str(payment.id),
            amount=self.contract.amount,
            currency=self.contract.currency,
            payment_intent=f"pi_{payment.id.hex[:24]}",
            **fields,
        )

    async def decline_card(self, payment: Payment) -> None:
        intent = sp.payment_intent(
            f"pi_{payment.id.hex[:24]}",
            payment_id=str(payment.id),
            contract_id=str(self.contract.id),
        )
        assert await self.deliver("payment_intent.payment_failed", intent) == "processed"

    async def fail_delayed_payment(self, payment: Payment) -> None:
        """A SEPA debit: checkout completes unpaid, then the bank refuses it (as Stripe sends)."""
        unpaid = self.session_event(payment, payment_status="unpaid")
        await self.deliver("checkout.session.completed", unpaid)
        assert payment.status is PaymentStatus.PROCESSING
        await self.decline_card(payment)  # payment_intent.payment_failed comes first
        await self.deliver("checkout.session.async_payment_failed", unpaid)
        complete(self.stripe_session(payment), payment_status="unpaid")


def near_expiry(payment: Payment) -> datetime:
    return payment.expires_at - timedelta(seconds=299)  # within the reuse margin


# Point 2: one payable session per contract


async def test_a_session_replaced_near_its_expiry_is_expired_at_stripe_first() -> None:
    world = World()
    first = (await world.checkout()).payment
    second = await world.checkout(at=near_expiry(first))
    assert second.attempt is Attempt.NEW
    assert second.payment.checkout_session_id != first.checkout_session_id
    assert world.stripe.expired == [first.checkout_session_id]
    assert world.stripe_session(first)["status"] == "expired"
    assert first.status is PaymentStatus.EXPIRED
    assert [s["status"] for s in world.stripe.sessions.values()].count("open") == 1


async def test_a_declined_attempt_near_its_expiry_is_expired_too() -> None:
    world = World()
    first = (await world.checkout()).payment
    await world.decline_card(first)
    second = await world.checkout(at=near_expiry(first))
    assert second.attempt is Attempt.NEW
    assert world.stripe.expired == [first.checkout_session_id]


async def test_an_old_session_paid_meanwhile_is_settled_and_no_new_session_made() -> None:
    world = World()
    first = (await world.checkout()).payment
    complete(world.stripe_session(first))  # paid; its webhook has not arrived yet
    with pytest.raises(AlreadyPaid):
        await world.checkout(at=near_expiry(first))
    assert first.status is PaymentStatus.SUCCEEDED
    assert world.outbox == [Succeeded]
    assert len(world.stripe.requests) == 1


async def test_a_second_open_attempt_is_expired_before_the_reused_one_is_offered() -> None:
    world = World()
    first = (await world.checkout()).payment
    # An older attempt whose session is still open (as left by an earlier release).
    older = Payment(
        id=uuid.uuid4(),
        contract_id=world.contract.id,
        amount=first.amount,
        currency=first.currency,
        correlation_id="corr-0",
        expires_at=first.expires_at,
        created_at=NOW - timedelta(minutes=1),
        updated_at=NOW,
        checkout_session_id="cs_test_older",
        checkout_url="https://checkout.stripe.test/c/pay/cs_test_older",
    )
    await world.uows.database.payments.add(older)
    world.stripe.sessions["cs_test_older"] = {
        **world.stripe_session(first),
        "id": "cs_test_older",
        "metadata": {"contract_id": str(world.contract.id), "payment_id": str(older.id)},
    }
    again = await world.checkout()
    assert (again.attempt, again.payment.id) == (Attempt.REUSED, first.id)
    assert world.stripe.expired == ["cs_test_older"]


# Point 3: a completed session is never offered again


async def test_after_a_delayed_payment_failed_a_new_session_is_started() -> None:
    world = World()
    first = (await world.checkout()).payment
    await world.fail_delayed_payment(first)
    assert first.status is PaymentStatus.FAILED
    assert not first.is_reusable(NOW, 300)
    second = await world.checkout()
    assert second.attempt is Attempt.NEW
    assert second.payment.checkout_session_id != first.checkout_session_id
    assert world.stripe.expired == []  # a completed session is not expired, just left


async def test_a_declined_card_keeps_its_open_session_offered() -> None:
    world = World()
    first = (await world.checkout()).payment
    await world.decline_card(first)
    assert first.status is PaymentStatus.FAILED
    again = await world.checkout()
    assert (again.attempt, again.payment.id) == (Attempt.REUSED, first.id)
    assert len(world.stripe.requests) == 1


async def test_a_failed_attempt_stripe_completed_is_abandoned_when_offered() -> None:
    """The `checkout.session.completed` (unpaid) webhook was missed: the attempt only knows a
    decline, but Stripe has completed its session."""
    world = World()
    first = (await world.checkout()).payment
    await world.decline_card(first)
    complete(world.stripe_session(first), payment_status="unpaid")
    second = await world.checkout()
    assert second.attempt is Attempt.NEW
    assert (first.status, first.failure_reason) == ("expired", "checkout_session_closed")


# Point 9: a session Stripe no longer knows


async def test_a_session_stripe_no_longer_knows_is_replaced_by_a_new_attempt() -> None:
    world = World()
    first = (await world.checkout()).payment
    assert first.checkout_session_id is not None
    del world.stripe.sessions[first.checkout_session_id]  # Stripe answers resource_missing
    second = await world.checkout()
    assert second.attempt is Attempt.NEW
    assert second.payment.checkout_url is not None
    assert second.payment.checkout_session_id != first.checkout_session_id
    assert (first.status, first.failure_reason) == ("expired", "checkout_session_missing")
    assert world.outbox == []  # the student is already paying again: nothing failed


async def test_a_reused_session_found_paid_at_stripe_is_settled_not_offered() -> None:
    world = World()
    first = (await world.checkout()).payment
    complete(world.stripe_session(first))
    with pytest.raises(AlreadyPaid):
        await world.checkout()
    assert first.status is PaymentStatus.SUCCEEDED


async def test_a_reused_session_found_processing_at_stripe_is_in_progress() -> None:
    world = World()
    first = (await world.checkout()).payment
    complete(world.stripe_session(first), payment_status="unpaid")
    with pytest.raises(PaymentInProgress):
        await world.checkout()
    assert first.status is PaymentStatus.PROCESSING


async def test_a_reused_session_found_expired_at_stripe_fails_then_a_new_one_starts() -> None:
    world = World()
    first = (await world.checkout()).payment
    world.stripe_session(first).update(status="expired", url=None)
    second = await world.checkout()
    assert second.attempt is Attempt.NEW
    assert first.status is PaymentStatus.EXPIRED
    assert world.outbox == [Failed]


# Point 7: the pay page of a contract on its way, and where a payment stands


async def test_the_pay_page_of_a_contract_not_learnt_yet_waits_then_is_not_found() -> None:
    uows = FakeUnitsOfWork()
    unknown = uuid.uuid4()
    student = Viewer(STUDENT, admin=False)
    async with uows() as uow:
        awaited = await open_payment_page(OpenPaymentPage(unknown, student, None), uow, NOW)
        assert awaited == AwaitedContract(unknown, NOW)
        later = NOW + CONTRACT_WAIT - timedelta(seconds=1)
        still = await open_payment_page(OpenPaymentPage(unknown, student, NOW), uow, later)
        assert still == AwaitedContract(unknown, NOW)
        future = await open_payment_page(
            OpenPaymentPage(unknown, student, NOW + timedelta(days=1)), uow, NOW
        )
        assert future == AwaitedContract(unknown, NOW)  # never waits longer than asked
        with pytest.raises(ContractNotFound, match=r"^There is no such contract\.$"):
            await open_payment_page(
                OpenPaymentPage(unknown, student, NOW), uow, NOW + CONTRACT_WAIT
            )


async def test_the_pay_page_of_a_known_contract_shows_its_payments() -> None:
    world = World()
    async with world.uows() as uow:
        shown = await open_payment_page(
            OpenPaymentPage(world.contract.id, Viewer(STUDENT, admin=False), None), uow, NOW
        )
    assert isinstance(shown, ContractPayments)
    assert shown.standing is Standing.UNPAID


def attempt(status: PaymentStatus, created: datetime = NOW) -> Payment:
    return Payment(
        id=uuid.uuid4(),
        contract_id=uuid.uuid4(),
        amount=100,
        currency="eur",
        correlation_id="c",
        expires_at=created + timedelta(hours=1),
        created_at=created,
        updated_at=created,
        status=status,
        paid_at=created if status in PAID_STATUSES else None,
    )


@pytest.mark.parametrize(
    ("statuses", "standing"),
    [
        ([], Standing.UNPAID),
        ([PaymentStatus.FAILED, PaymentStatus.EXPIRED], Standing.UNPAID),
        ([PaymentStatus.PROCESSING], Standing.PROCESSING),
        ([PaymentStatus.HELD_FOR_REVIEW, PaymentStatus.EXPIRED], Standing.HELD),
        ([PaymentStatus.SUCCEEDED, PaymentStatus.HELD_FOR_REVIEW], Standing.PAID),
        ([PaymentStatus.PARTIALLY_REFUNDED], Standing.PAID),
        ([PaymentStatus.REFUNDED], Standing.REFUNDED),
        ([PaymentStatus.DISPUTED], Standing.DISPUTED),
    ],
    ids=[
        "none",
        "failed",
        "processing",
        "held",
        "paid-and-held",
        "partly-refunded",
        "refunded",
        "disputed",
    ],
)
def test_where_a_contracts_payment_stands(
    statuses: list[PaymentStatus], standing: Standing
) -> None:
    world = World()
    attempts = [attempt(status, NOW - timedelta(minutes=n)) for n, status in enumerate(statuses)]
    assert ContractPayments(world.contract, attempts).standing is standing


def test_a_day_long_checkout_never_asks_stripe_for_more_than_a_day() -> None:
    contract = World().contract
    started = ContractPayments(contract, []).checkout(STUDENT, NOW, timedelta(hours=24), "c-1")
    assert NOW + timedelta(hours=23) < started.payment.expires_at <= NOW + timedelta(hours=24)
