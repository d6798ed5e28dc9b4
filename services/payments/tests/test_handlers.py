"""Every handler against the in-memory fakes: no database, no broker, no sockets."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from skileez_events import ContractCreated
from skileez_payments.adapters import stripe_objects
from skileez_payments.domain.commands import ConfirmCheckout, RequestRefund, StartCheckout, Viewer
from skileez_payments.domain.contract import PayableContract
from skileez_payments.domain.contract_payments import Attempt
from skileez_payments.domain.errors import (
    AlreadyPaid,
    ContractNotFound,
    Forbidden,
    NotRefundable,
    PaymentInProgress,
    PaymentNotFound,
    PaymentNotReady,
    PaymentProviderRefused,
    PaymentProviderUnavailable,
    SessionNotFound,
)
from skileez_payments.domain.payment import (
    DisputeClosed,
    Disputed,
    Failed,
    Held,
    Payment,
    PaymentStatus,
    Processing,
    Refunded,
    Succeeded,
)
from skileez_payments.service_layer.checkout import (
    CheckoutPolicy,
    confirm_checkout,
    contract_payments,
    start_checkout,
)
from skileez_payments.service_layer.contracts import learn_contract
from skileez_payments.service_layer.reconciliation import ReconciliationPolicy, reconcile
from skileez_payments.service_layer.refunds import payment_for, request_refund
from skileez_payments.service_layer.stripe_events import process_stripe_event
from skileez_web.settings import Links

from . import stripe_payloads as sp
from .fakes import FakeStripe, FakeUnitsOfWork, complete

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
LINKS = Links("https://contracts.test", "https://payments.test", "https://scheduling.test")
POLICY = CheckoutPolicy(
    expiry=timedelta(minutes=30),
    success_url=LINKS.payment_success,
    cancel_url=LINKS.payment_cancel,
    clock=lambda: NOW,
)
STUDENT, COACH = "student-1", "coach-1"


def clock() -> datetime:
    return NOW


def contract(**fields: Any) -> PayableContract:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "student_id": STUDENT,
        "coach_id": COACH,
        "title": "Ten sessions of chess",
        "session_count": 10,
        "amount": 50_000,
        "currency": "eur",
        "created_at": NOW,
        **fields,
    }
    return PayableContract(**values)


class World:
    """A contract payments knows, the fakes, and what tests do through the handlers."""

    def __init__(self, **contract_fields: Any) -> None:
        self.uows = FakeUnitsOfWork()
        self.stripe = FakeStripe()
        self.contract = contract(**contract_fields)
        self.uows.database.contracts.known[self.contract.id] = self.contract

    @property
    def outbox(self) -> list[type]:
        return [type(published.event) for published in self.uows.database.outbox]

    async def checkout(self, user_id: str = STUDENT) -> Payment:
        command = StartCheckout(self.contract.id, user_id, "corr-1")
        return (await start_checkout(command, self.uows, self.stripe, POLICY)).payment

    async def deliver(self, event: dict[str, Any], *, livemode: bool = False) -> str:
        async with self.uows() as uow:
            return await process_stripe_event(
                stripe_objects.Event.model_validate(event),
                uow,
                payload=json.dumps(event).encode(),
                source="webhook",
                livemode=livemode,
                clock=clock,
            )

    def session(self, payment: Payment, **fields: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "contract_id": str(self.contract.id),
            "payment_id": str(payment.id),
            "amount": self.contract.amount,
            "currency": self.contract.currency,
            "payment_intent": f"pi_{payment.id.hex[:24]}",
            **fields,
        }
        return sp.checkout_session(payment.checkout_session_id or "cs_unknown", **values)

    def charge(self, payment: Payment, refunded: int, refund_ids: list[str], **fields: Any) -> Any:
        values: dict[str, Any] = {
            "amount": self.contract.amount,
            "currency": self.contract.currency,
            "amount_refunded": refunded,
            "refund_ids": refund_ids,
            **fields,
        }
        return sp.charge(f"pi_{payment.id.hex[:24]}", **values)

    async def paid(self) -> Payment:
        payment = await self.checkout()
        outcome = await self.deliver(sp.event("checkout.session.completed", self.session(payment)))
        assert outcome == "processed"
        return payment


# Learning contracts


async def test_a_contract_is_learnt_once_and_its_terms_never_change() -> None:
    uows = FakeUnitsOfWork()
    created = ContractCreated(
        contract_id=uuid.uuid4(),
        proposal_id=uuid.uuid4(),
        student_id=STUDENT,
        coach_id=COACH,
        title="Chess",
        session_count=4,
        amount=20_000,
        currency="eur",
        created_at=NOW,
    )
    async with uows() as uow:
        await learn_contract(created, uow)
        await learn_contract(created.model_copy(update={"amount": 1}), uow)
    learnt = uows.database.contracts.known[created.contract_id]
    assert (learnt.student_id, learnt.amount, learnt.currency) == (STUDENT, 20_000, "eur")


# Starting a checkout


async def test_the_student_starts_one_attempt_with_the_contracts_amount_and_links() -> None:
    world = World()
    payment = await world.checkout()
    assert (payment.amount, payment.currency, payment.status) == (50_000, "eur", "open")
    assert payment.correlation_id == "corr-1"
    assert (
        payment.checkout_url == f"https://checkout.stripe.test/c/pay/{payment.checkout_session_id}"
    )
    [request] = world.stripe.requests
    base = f"https://payments.test/contracts/{world.contract.id}"
    assert request.success_url == f"{base}/payment-success?session_id={{CHECKOUT_SESSION_ID}}"
    assert request.cancel_url == f"{base}/payment-cancel"
    assert request.idempotency_key == f"skileez-checkout-{payment.id}"
    assert payment.expires_at - NOW >= timedelta(minutes=30)


async def test_an_open_session_is_reused_until_it_is_about_to_expire() -> None:
    world = World()
    first = await world.checkout()
    again = await start_checkout(
        StartCheckout(world.contract.id, STUDENT, "corr-2"), world.uows, world.stripe, POLICY
    )
    assert (again.payment.id, again.attempt) == (first.id, Attempt.REUSED)
    assert len(world.stripe.requests) == 1
    later = CheckoutPolicy(
        expiry=POLICY.expiry,
        success_url=POLICY.success_url,
        cancel_url=POLICY.cancel_url,
        clock=lambda: first.expires_at - timedelta(seconds=299),  # within the reuse margin
    )
    fresh = await start_checkout(
        StartCheckout(world.contract.id, STUDENT, "corr-3"), world.uows, world.stripe, later
    )
    assert fresh.attempt is Attempt.NEW
    assert fresh.payment.id != first.id


async def test_an_attempt_interrupted_before_its_session_is_resumed_not_doubled() -> None:
    world = World()
    world.stripe.unavailable = True
    with pytest.raises(
        PaymentProviderUnavailable, match=r"Stripe cannot be reached; please retry."
    ):
        await world.checkout()
    [written] = world.uows.database.payments.stored.values()
    world.stripe.unavailable = False
    resumed = await start_checkout(
        StartCheckout(world.contract.id, STUDENT, "corr-2"), world.uows, world.stripe, POLICY
    )
    assert (resumed.payment.id, resumed.attempt) == (written.id, Attempt.RESUMED)
    assert resumed.payment.checkout_url is not None


async def test_only_the_student_pays_a_known_contract() -> None:
    world = World()
    with pytest.raises(Forbidden, match=r"Only the contract's student can pay it."):
        await world.checkout(COACH)
    with pytest.raises(ContractNotFound, match=r"We do not know contract"):
        await start_checkout(
            StartCheckout(uuid.uuid4(), STUDENT, "c"), world.uows, world.stripe, POLICY
        )
    assert world.uows.database.payments.stored == {}


async def test_a_paid_or_settling_contract_gets_no_new_attempt() -> None:
    world = World()
    payment = await world.paid()
    with pytest.raises(AlreadyPaid) as paid:
        await world.checkout()
    assert paid.value.fields == {"payment_id": str(payment.id)}
    payment.status = PaymentStatus.PROCESSING
    with pytest.raises(PaymentInProgress):
        await world.checkout()


async def test_stripe_refusing_the_session_is_a_provider_refusal() -> None:
    world = World()
    world.stripe.refusal = "Invalid currency"
    with pytest.raises(
        PaymentProviderRefused, match=r"Stripe refused the payment: Invalid currency"
    ):
        await world.checkout()


# The contract's payments, to whom they are shown


async def test_a_contracts_payments_are_shown_to_its_parties_and_admins_only() -> None:
    world = World()
    payment = await world.checkout()
    async with world.uows() as uow:
        for viewer in (Viewer(STUDENT, False), Viewer(COACH, False), Viewer("x", True)):
            shown = await contract_payments(world.contract.id, viewer, uow)
            assert [attempt.id for attempt in shown.attempts] == [payment.id]
        with pytest.raises(Forbidden, match=r"This contract is not yours."):
            await contract_payments(world.contract.id, Viewer("someone", False), uow)
        with pytest.raises(ContractNotFound):
            await contract_payments(uuid.uuid4(), Viewer(STUDENT, False), uow)
        assert (await payment_for(payment.id, Viewer(COACH, False), uow)) is payment
        with pytest.raises(Forbidden, match=r"This payment is not yours."):
            await payment_for(payment.id, Viewer("someone", False), uow)
        with pytest.raises(PaymentNotFound):
            await payment_for(uuid.uuid4(), Viewer(STUDENT, True), uow)


# The customer back from Checkout


async def test_the_success_page_settles_a_paid_session_before_the_webhook() -> None:
    world = World()
    payment = await world.checkout()
    assert payment.checkout_session_id is not None
    complete(world.stripe.sessions[payment.checkout_session_id])
    command = ConfirmCheckout(
        world.contract.id, payment.checkout_session_id, Viewer(STUDENT, False)
    )
    shown, settled = await confirm_checkout(
        command, world.uows, world.stripe, livemode=False, clock=clock
    )
    assert (shown, settled.status) == (world.contract, PaymentStatus.SUCCEEDED)
    assert world.outbox == [Succeeded]
    assert world.uows.database.outbox[0].causation_id is None
    await confirm_checkout(command, world.uows, world.stripe, livemode=False, clock=clock)
    assert world.outbox == [Succeeded]  # once


async def test_the_success_page_refuses_a_session_not_the_contracts_without_asking_stripe() -> None:
    world, other = World(), World()
    own, theirs = await world.checkout(), await other.checkout()
    assert own.checkout_session_id is not None
    assert theirs.checkout_session_id is not None

    async def confirm(session_id: str) -> None:
        command = ConfirmCheckout(world.contract.id, session_id, Viewer(STUDENT, False))
        await confirm_checkout(command, world.uows, world.stripe, livemode=False, clock=clock)

    world.stripe.unavailable = True  # asking Stripe would answer PaymentProviderUnavailable
    for session_id in ("cs_nope", theirs.checkout_session_id):
        with pytest.raises(SessionNotFound, match=r"no such payment session for this contract"):
            await confirm(session_id)
    with pytest.raises(PaymentProviderUnavailable, match=r"please reload"):
        await confirm(own.checkout_session_id)
    world.stripe.unavailable = False
    del world.stripe.sessions[own.checkout_session_id]  # Stripe no longer knows it
    with pytest.raises(SessionNotFound, match=r"We found no such payment session\."):
        await confirm(own.checkout_session_id)


# The webhook's decisions


async def test_a_completed_paid_session_succeeds_once_and_a_duplicate_does_nothing() -> None:
    world = World()
    payment = await world.checkout()
    event = sp.event("checkout.session.completed", world.session(payment))
    assert await world.deliver(event) == "processed"
    assert await world.deliver(event) == "duplicate"
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.payment_intent_id == f"pi_{payment.id.hex[:24]}"
    assert world.outbox == [Succeeded]
    assert world.uows.database.outbox[0].causation_id == event["id"]


async def test_a_delayed_method_waits_in_processing_then_succeeds_or_fails() -> None:
    world = World()
    payment = await world.checkout()
    unpaid = world.session(payment, payment_status="unpaid")
    assert await world.deliver(sp.event("checkout.session.completed", unpaid)) == "processed"
    assert payment.status is PaymentStatus.PROCESSING
    assert world.outbox == [Processing]
    paid = world.session(payment)
    await world.deliver(sp.event("checkout.session.async_payment_succeeded", paid))
    assert payment.status is PaymentStatus.SUCCEEDED
    assert world.outbox == [Processing, Succeeded]

    failing = World()
    attempt = await failing.checkout()
    await failing.deliver(
        sp.event("checkout.session.completed", failing.session(attempt, payment_status="unpaid"))
    )
    await failing.deliver(
        sp.event(
            "checkout.session.async_payment_failed",
            failing.session(attempt, payment_status="unpaid"),
        )
    )
    assert (attempt.status, attempt.failure_reason) == ("failed", "async_payment_failed")
    assert failing.outbox == [Processing, Failed]


async def test_an_expired_session_fails_the_attempt() -> None:
    world = World()
    payment = await world.checkout()
    expired = world.session(payment, status="expired", payment_status="unpaid")
    await world.deliver(sp.event("checkout.session.expired", expired))
    assert (payment.status, payment.failure_reason) == ("expired", "checkout_session_expired")
    assert world.outbox == [Failed]


async def test_a_declined_card_fails_the_attempt_found_by_its_metadata() -> None:
    world = World()
    payment = await world.checkout()
    intent = sp.payment_intent(
        f"pi_{payment.id.hex[:24]}", payment_id=str(payment.id), contract_id=str(world.contract.id)
    )
    assert await world.deliver(sp.event("payment_intent.payment_failed", intent)) == "processed"
    assert (payment.status, payment.failure_reason) == ("failed", "card_declined")


@pytest.mark.parametrize(
    ("fields", "livemode"),
    [({"amount": 49_999}, False), ({"currency": "usd"}, False), ({}, True)],
)
async def test_a_charge_that_is_not_what_was_asked_is_held_for_review(
    fields: dict[str, Any], livemode: bool
) -> None:
    world = World()
    payment = await world.checkout()
    event = sp.event("checkout.session.completed", world.session(payment, **fields))
    assert await world.deliver(event, livemode=livemode) == "held"
    assert payment.status is PaymentStatus.HELD_FOR_REVIEW
    assert payment.review_reason
    assert world.outbox == [Held]


async def test_a_second_attempt_paid_after_the_contract_is_paid_is_held() -> None:
    world = World()
    first = await world.paid()
    second = Payment(
        **{
            **{f: getattr(first, f) for f in ("contract_id", "amount", "currency")},
            "id": uuid.uuid4(),
            "correlation_id": "corr-2",
            "expires_at": first.expires_at,
            "created_at": NOW,
            "updated_at": NOW,
            "checkout_session_id": "cs_second",
        }
    )
    await world.uows.database.payments.add(second)
    event = sp.event("checkout.session.completed", world.session(second))
    assert await world.deliver(event) == "held"
    assert second.review_reason == f"contract already paid by payment {first.id}"
    assert world.outbox == [Succeeded, Held]


async def test_refunds_are_recorded_cumulatively_partial_then_full() -> None:
    world = World()
    payment = await world.paid()
    await world.deliver(sp.event("charge.refunded", world.charge(payment, 10_000, ["re_1"])))
    assert (payment.status, payment.amount_refunded) == ("partially_refunded", 10_000)
    stale = sp.event("charge.refunded", world.charge(payment, 5_000, ["re_0"]))
    assert await world.deliver(stale) == "processed"
    assert payment.amount_refunded == 10_000
    await world.deliver(
        sp.event("charge.refunded", world.charge(payment, 50_000, ["re_1", "re_2"]))
    )
    assert (payment.status, payment.amount_refunded) == ("refunded", 50_000)
    refunds = [p.event for p in world.uows.database.outbox if isinstance(p.event, Refunded)]
    assert [(r.refund_amount, r.total_refunded, r.fully_refunded) for r in refunds] == [
        (10_000, 10_000, False),
        (40_000, 50_000, True),
    ]
    assert refunds[1].stripe_refund_id == "re_2"


async def test_a_refund_in_another_currency_is_not_recorded() -> None:
    world = World()
    payment = await world.paid()
    event = sp.event("charge.refunded", world.charge(payment, 100, ["re_1"], currency="usd"))
    assert await world.deliver(event) == "currency_mismatch"
    assert payment.amount_refunded == 0
    assert world.uows.database.stripe_events[event["id"]].outcome == "currency_mismatch"


async def test_a_dispute_marks_a_paid_payment_and_a_won_closing_puts_it_back() -> None:
    world = World()
    payment = await world.paid()
    dispute = sp.dispute(f"pi_{payment.id.hex[:24]}", amount=50_000, currency="eur")
    assert await world.deliver(sp.event("charge.dispute.created", dispute)) == "processed"
    assert payment.status is PaymentStatus.DISPUTED
    won = sp.event("charge.dispute.closed", {**dispute, "status": "won"})
    assert await world.deliver(won) == "processed"
    assert payment.status is PaymentStatus.SUCCEEDED
    assert world.outbox == [Succeeded, Disputed, DisputeClosed]


async def test_a_dispute_of_a_payment_not_paid_yet_is_not_ready() -> None:
    world = World()
    payment = await world.checkout()
    await world.deliver(
        sp.event("checkout.session.completed", world.session(payment, payment_status="unpaid"))
    )
    dispute = sp.dispute(f"pi_{payment.id.hex[:24]}", amount=50_000, currency="eur")
    with pytest.raises(PaymentNotReady):
        await world.deliver(sp.event("charge.dispute.created", dispute))


async def test_a_refund_before_its_payment_waits_unmatched_then_applies_when_paid() -> None:
    world = World()
    payment = await world.checkout()
    refund = sp.event("charge.refunded", world.charge(payment, 50_000, ["re_1"]))
    assert await world.deliver(refund) == "unmatched"
    stored = world.uows.database.stripe_events[refund["id"]]
    assert (stored.outcome, stored.waits_for) == ("unmatched", f"pi_{payment.id.hex[:24]}")
    await world.deliver(sp.event("checkout.session.completed", world.session(payment)))
    assert payment.status is PaymentStatus.REFUNDED
    assert stored.outcome == "processed"
    assert world.uows.database.waited == ["processed"]
    assert world.outbox == [Succeeded, Refunded]
    assert world.uows.database.outbox[1].causation_id == refund["id"]


async def test_events_payments_does_not_act_on_are_recorded_and_ignored() -> None:
    world = World()
    event = sp.event("customer.created", sp.fixture("customer"))
    assert await world.deliver(event) == "ignored"
    unreadable = sp.event("charge.refunded", {"object": "charge", "id": "ch_1"})
    assert await world.deliver(unreadable) == "unreadable"


# Admin refunds


async def test_an_admin_refund_asks_what_is_left_once_per_key() -> None:
    world = World()
    payment = await world.paid()
    whole = RequestRefund(payment.id, None, "requested_by_customer", "key-1")
    asked = await request_refund(whole, world.uows, world.stripe, clock)
    intent = f"pi_{payment.id.hex[:24]}"
    assert world.stripe.refund_calls == [
        (intent, 50_000, "requested_by_customer", f"skileez-refund-{payment.id}-key-1")
    ]
    again = await request_refund(whole, world.uows, world.stripe, clock)
    assert again.request == asked.request  # the same key: the same answer, Stripe not asked
    assert len(world.stripe.refund_calls) == 1
    keyed = RequestRefund(payment.id, 100, None, "client-key")
    await request_refund(keyed, world.uows, world.stripe, clock)
    assert world.stripe.refund_calls[-1][3] == f"skileez-refund-{payment.id}-client-key"


async def test_an_admin_refund_is_refused_beyond_what_is_left_or_before_payment() -> None:
    world = World()
    payment = await world.paid()
    await world.deliver(sp.event("charge.refunded", world.charge(payment, 40_000, ["re_1"])))
    too_much = RequestRefund(payment.id, 10_001, None, "k1")
    with pytest.raises(NotRefundable, match=r"At most 10000 can still be refunded"):
        await request_refund(too_much, world.uows, world.stripe, clock)
    unpaid = await World().checkout()
    with pytest.raises(NotRefundable, match=r"none to refund"):
        unpaid.refund_request(None, "k2")
    with pytest.raises(PaymentNotFound):
        await request_refund(
            RequestRefund(uuid.uuid4(), None, None, "k3"), world.uows, world.stripe, clock
        )
    world.stripe.refusal = "Stripe is down for maintenance"
    with pytest.raises(PaymentProviderRefused, match=r"Stripe refused: Stripe is down"):
        await request_refund(
            RequestRefund(payment.id, 1, None, "k4"), world.uows, world.stripe, clock
        )
    assert world.stripe.refund_calls == []


# Reconciliation's choices


def listed(event: dict[str, Any], created: datetime) -> dict[str, Any]:
    return {**event, "created": int(created.timestamp())}


async def test_reconciliation_recovers_a_missed_event_and_skips_recorded_ones() -> None:
    world = World()
    payment = await world.checkout()
    delivered = sp.event("checkout.session.expired", world.session(payment, status="expired"))
    missed = sp.event("checkout.session.completed", world.session(payment))
    world.stripe.events = [listed(missed, NOW - timedelta(minutes=5))]
    policy = ReconciliationPolicy(livemode=False, lookback=timedelta(hours=1), clock=clock)
    result = await reconcile(world.stripe, world.uows, policy)
    assert (result.read, result.recovered, result.deferred) == (1, 1, 0)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert world.uows.database.stripe_events[missed["id"]].source == "reconciliation"
    assert world.uows.database.cursor == NOW - timedelta(minutes=5)
    world.stripe.events.append(listed(delivered, NOW - timedelta(minutes=1)))
    await world.deliver(delivered)
    again = await reconcile(world.stripe, world.uows, policy)
    assert (again.read, again.recovered) == (2, 0)
    assert world.uows.database.cursor == NOW - timedelta(minutes=1)


async def test_reconciliation_keeps_its_cursor_at_a_recent_unmatched_refund() -> None:
    world = World()
    payment = await world.checkout()
    refund = sp.event("charge.refunded", world.charge(payment, 100, ["re_1"]))
    world.stripe.events = [
        listed(refund, NOW - timedelta(minutes=10)),
        listed(
            sp.event(
                "checkout.session.expired",
                world.session(
                    payment, status="expired", payment_status="unpaid", payment_intent="pi_other"
                ),
            ),
            NOW,
        ),
    ]
    policy = ReconciliationPolicy(livemode=False, lookback=timedelta(hours=1), clock=clock)
    result = await reconcile(world.stripe, world.uows, policy)
    assert (result.recovered, result.deferred) == (1, 1)
    assert world.uows.database.stripe_events[refund["id"]].outcome == "unmatched"
    assert world.uows.database.cursor == NOW - timedelta(minutes=10)
    old = ReconciliationPolicy(
        livemode=False, lookback=timedelta(minutes=5), clock=lambda: NOW + timedelta(minutes=1)
    )
    later = await reconcile(world.stripe, world.uows, old)
    assert (later.recovered, later.deferred) == (0, 0)  # retried, still unmatched, too old
    assert world.uows.database.cursor == NOW


async def test_reconciliation_defers_an_event_whose_payment_is_not_ready() -> None:
    world = World()
    payment = await world.checkout()
    dispute = sp.dispute(f"pi_{payment.id.hex[:24]}", amount=50_000, currency="eur")
    payment.payment_intent_id = f"pi_{payment.id.hex[:24]}"
    early = listed(sp.event("charge.dispute.created", dispute), NOW - timedelta(minutes=2))
    world.stripe.events = [early]
    policy = ReconciliationPolicy(livemode=False, lookback=timedelta(hours=1), clock=clock)
    result = await reconcile(world.stripe, world.uows, policy)
    assert (result.recovered, result.deferred) == (0, 1)
    assert world.uows.database.cursor == NOW - timedelta(minutes=2)
