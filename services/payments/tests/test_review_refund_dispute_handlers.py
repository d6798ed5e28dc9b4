"""Held payments reviewed, disputes opened and closed, refunds once per Idempotency-Key, and
reconciliation's bounded cursor: the handlers against the in-memory fakes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from skileez_payments.domain.commands import ListPayments, RequestRefund, ReviewPayment
from skileez_payments.domain.contract_payments import ContractPayments, Standing
from skileez_payments.domain.errors import (
    CannotApprove,
    IdempotencyKeyReused,
    NotHeldForReview,
    NotRefundable,
    PaymentNotReady,
    PaymentProviderUnavailable,
)
from skileez_payments.domain.payment import (
    DisputeClosed,
    Disputed,
    DisputeOutcome,
    Failed,
    Held,
    Payment,
    PaymentStatus,
    Refunded,
    ReviewDecision,
    Succeeded,
)
from skileez_payments.service_layer.reconciliation import (
    ReconciliationPolicy,
    reconcile,
    unapplied_stripe_events,
)
from skileez_payments.service_layer.refunds import list_payments, request_refund
from skileez_payments.service_layer.reviews import ReviewPolicy, review_payment, reviews_of

from . import stripe_payloads as sp
from .test_handlers import NOW, World, clock

POLICY = ReviewPolicy(livemode=False, clock=clock)
ADMIN = "admin-7"


def intent_of(payment: Payment) -> str:
    return f"pi_{payment.id.hex[:24]}"


async def held(world: World, **session: Any) -> Payment:
    """An attempt whose completion Stripe reports with `session`'s differences: held."""
    payment = await world.checkout()
    event = sp.event("checkout.session.completed", world.session(payment, **session))
    assert await world.deliver(event) == "held"
    return payment


async def paid_after_expiry(world: World) -> Payment:
    payment = await world.checkout()
    expired = world.session(payment, status="expired", payment_status="unpaid")
    await world.deliver(sp.event("checkout.session.expired", expired))
    await world.deliver(sp.event("checkout.session.completed", world.session(payment)))
    assert payment.status is PaymentStatus.HELD_FOR_REVIEW
    return payment


async def duplicate(world: World) -> tuple[Payment, Payment]:
    """The contract paid by a first attempt, then by a second one: held."""
    first = await world.paid()
    second = Payment(
        id=uuid.uuid4(),
        contract_id=first.contract_id,
        amount=first.amount,
        currency=first.currency,
        correlation_id="corr-2",
        expires_at=first.expires_at,
        created_at=NOW,
        updated_at=NOW,
        checkout_session_id="cs_second",
    )
    await world.uows.database.payments.add(second)
    assert await world.deliver(sp.event("checkout.session.completed", world.session(second))) == (
        "held"
    )
    return first, second


def review(payment: Payment, decision: ReviewDecision, note: str = "checked") -> ReviewPayment:
    return ReviewPayment(payment.id, decision, note, ADMIN)


def dispute(payment: Payment, **fields: Any) -> dict[str, Any]:
    return {**sp.dispute(intent_of(payment), amount=payment.amount, currency="eur"), **fields}


# Held payments: PaymentHeld, approve, refund


async def test_a_held_payment_publishes_payment_held_with_what_stripe_charged() -> None:
    world = World()
    payment = await held(world, amount=49_999)
    assert world.outbox == [Held]
    assert (payment.charged_amount, payment.charged_currency) == (49_999, "eur")
    assert payment.review_reason == "charged 49999 eur where 50000 eur was asked"


async def test_approving_a_payment_paid_after_expiry_pays_the_contract_and_is_recorded() -> None:
    world = World()
    payment = await paid_after_expiry(world)
    done = await review_payment(
        review(payment, ReviewDecision.APPROVE, "the student paid in time"),
        world.uows,
        world.stripe,
        POLICY,
    )
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.is_paid
    assert world.outbox == [Failed, Held, Succeeded]
    assert world.uows.database.outbox[-1].causation_id == f"review:{done.review.id}"
    async with world.uows() as uow:
        [recorded] = await reviews_of(payment.id, uow)
    assert (recorded.decision, recorded.note, recorded.reviewer, recorded.reviewed_at) == (
        ReviewDecision.APPROVE,
        "the student paid in time",
        ADMIN,
        NOW,
    )
    with pytest.raises(NotHeldForReview):
        await review_payment(
            review(payment, ReviewDecision.APPROVE), world.uows, world.stripe, POLICY
        )


async def test_a_payment_of_the_other_mode_is_approved_only_where_that_mode_is_expected() -> None:
    world = World()
    payment = await held(world, livemode=True)
    with pytest.raises(CannotApprove, match="livemode True where False was expected"):
        await review_payment(
            review(payment, ReviewDecision.APPROVE), world.uows, world.stripe, POLICY
        )
    assert payment.status is PaymentStatus.HELD_FOR_REVIEW


@pytest.mark.parametrize(
    ("session", "refused"),
    [
        ({"amount": 49_999}, "charged 49999 eur where 50000 eur was asked"),
        ({"currency": "usd"}, "charged 50000 usd where 50000 eur was asked"),
    ],
)
async def test_a_charge_of_other_money_cannot_be_approved_and_nothing_is_recorded(
    session: dict[str, Any], refused: str
) -> None:
    world = World()
    payment = await held(world, **session)
    with pytest.raises(CannotApprove, match=refused):
        await review_payment(
            review(payment, ReviewDecision.APPROVE), world.uows, world.stripe, POLICY
        )
    assert payment.status is PaymentStatus.HELD_FOR_REVIEW
    assert world.uows.database.reviews.stored == []
    assert world.outbox == [Held]


async def test_a_duplicate_payment_cannot_be_approved_and_is_refunded_whole_once() -> None:
    world = World()
    first, second = await duplicate(world)
    with pytest.raises(CannotApprove, match=f"already paid by payment {first.id}"):
        await review_payment(
            review(second, ReviewDecision.APPROVE), world.uows, world.stripe, POLICY
        )
    done = await review_payment(
        review(second, ReviewDecision.REFUND, "paid twice"), world.uows, world.stripe, POLICY
    )
    key = f"skileez-review-refund-{second.id}"
    assert world.stripe.refund_calls == [(intent_of(second), None, "duplicate", key)]
    assert done.review.stripe_refund_id == "re_1"
    # Asked again (a retry after a timeout): the same Stripe request, one refund.
    await review_payment(review(second, ReviewDecision.REFUND), world.uows, world.stripe, POLICY)
    assert [call[3] for call in world.stripe.refund_calls] == [key, key]
    assert len(world.stripe.refunds) == 1
    with pytest.raises(CannotApprove, match=r"refund of payment .* was decided"):
        await review_payment(
            review(second, ReviewDecision.APPROVE), world.uows, world.stripe, POLICY
        )
    refunded = sp.event("charge.refunded", world.charge(second, 50_000, ["re_1"]))
    assert await world.deliver(refunded) == "processed"
    assert second.status is PaymentStatus.REFUNDED
    assert first.status is PaymentStatus.SUCCEEDED  # the contract stays paid by the first
    assert world.outbox == [Succeeded, Held, Refunded]
    stored = world.uows.database.reviews.stored
    assert [(r.decision, r.stripe_refund_id) for r in stored] == [
        (ReviewDecision.REFUND, "re_1"),
        (ReviewDecision.REFUND, "re_1"),
    ]


async def test_a_held_payment_refunded_whole_lets_the_student_pay_again() -> None:
    world = World()
    payment = await held(world, amount=49_999)
    await review_payment(review(payment, ReviewDecision.REFUND), world.uows, world.stripe, POLICY)
    refunded = sp.event("charge.refunded", world.charge(payment, 49_999, ["re_1"], amount=49_999))
    assert await world.deliver(refunded) == "processed"
    assert payment.status is PaymentStatus.REFUNDED
    assert not payment.is_paid
    again = await world.checkout()
    assert again.id != payment.id
    assert again.status is PaymentStatus.OPEN


async def test_a_refund_at_stripe_of_a_held_payment_is_applied_not_deferred() -> None:
    world = World()
    payment = await held(world, currency="usd")
    partial = sp.event("charge.refunded", world.charge(payment, 10_000, ["re_1"], currency="usd"))
    assert await world.deliver(partial) == "processed"
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.HELD_FOR_REVIEW, 10_000)
    whole = sp.event(
        "charge.refunded", world.charge(payment, 50_000, ["re_1", "re_2"], currency="usd")
    )
    assert await world.deliver(whole) == "processed"
    assert payment.status is PaymentStatus.REFUNDED
    assert world.outbox == [Held, Refunded, Refunded]


async def test_the_refund_api_sends_a_held_payment_to_its_review() -> None:
    world = World()
    payment = await held(world, amount=1)
    with pytest.raises(NotRefundable, match="held for review"):
        await request_refund(
            RequestRefund(payment.id, None, None, "k"), world.uows, world.stripe, clock
        )


# Disputes


async def test_a_dispute_opened_then_lost_publishes_both_and_leaves_the_payment_refunded() -> None:
    world = World()
    payment = await world.paid()
    opened = dispute(payment)
    assert await world.deliver(sp.event("charge.dispute.created", opened)) == "processed"
    assert payment.status is PaymentStatus.DISPUTED
    assert payment.refundable_amount == 0  # Stripe refuses to refund a disputed charge
    for funds in ("charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated"):
        assert await world.deliver(sp.event(funds, opened)) == "recorded"
    assert payment.status is PaymentStatus.DISPUTED
    lost = sp.event("charge.dispute.closed", {**opened, "status": "lost"})
    assert await world.deliver(lost) == "processed"
    assert (payment.status, payment.dispute_outcome) == (PaymentStatus.REFUNDED, "lost")
    assert payment.refundable_amount == 0
    assert world.outbox == [Succeeded, Disputed, DisputeClosed]
    disputed, closed = (p.event for p in world.uows.database.outbox[1:])
    assert disputed == Disputed(opened["id"], 50_000, "eur", "fraudulent", NOW)
    assert closed == DisputeClosed(opened["id"], DisputeOutcome.LOST, NOW)


async def test_a_replayed_completion_never_ends_a_dispute_or_a_hold() -> None:
    world = World()
    payment = await world.paid()
    await world.deliver(sp.event("charge.dispute.created", dispute(payment)))
    await world.deliver(sp.event("checkout.session.completed", world.session(payment)))
    assert payment.status is PaymentStatus.DISPUTED
    other = World()
    kept = await held(other, amount=49_999)
    await other.deliver(sp.event("checkout.session.completed", other.session(kept)))
    assert (kept.status, kept.charged_amount) == (PaymentStatus.HELD_FOR_REVIEW, 49_999)


async def test_a_dispute_closed_before_its_opening_arrives_is_final() -> None:
    world = World()
    payment = await world.paid()
    opened = dispute(payment)
    await world.deliver(sp.event("charge.dispute.closed", {**opened, "status": "lost"}))
    assert payment.status is PaymentStatus.REFUNDED
    assert await world.deliver(sp.event("charge.dispute.created", opened)) == "processed"
    assert payment.status is PaymentStatus.REFUNDED
    assert world.outbox == [Succeeded, DisputeClosed]


async def test_a_dispute_on_a_held_payment_is_applied_and_a_win_puts_it_back_on_hold() -> None:
    world = World()
    payment = await paid_after_expiry(world)
    opened = dispute(payment)
    assert await world.deliver(sp.event("charge.dispute.created", opened)) == "processed"
    assert payment.status is PaymentStatus.DISPUTED
    won = sp.event("charge.dispute.closed", {**opened, "status": "won"})
    assert await world.deliver(won) == "processed"
    assert payment.status is PaymentStatus.HELD_FOR_REVIEW


async def test_a_partly_refunded_payment_goes_back_to_partly_refunded_when_its_dispute_is_won() -> (
    None
):
    world = World()
    payment = await world.paid()
    await world.deliver(sp.event("charge.refunded", world.charge(payment, 1_000, ["re_1"])))
    opened = dispute(payment)
    await world.deliver(sp.event("charge.dispute.created", opened))
    await world.deliver(sp.event("charge.dispute.closed", {**opened, "status": "won"}))
    assert payment.status is PaymentStatus.PARTIALLY_REFUNDED


async def test_refunds_and_disputes_of_the_other_mode_are_never_applied_and_are_listed() -> None:
    world = World()
    payment = await world.paid()
    refund = sp.event("charge.refunded", world.charge(payment, 100, ["re_1"]), livemode=True)
    opened = sp.event("charge.dispute.created", dispute(payment), livemode=True)
    assert await world.deliver(refund) == "livemode_mismatch"
    assert await world.deliver(opened) == "livemode_mismatch"
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.SUCCEEDED, 0)
    async with world.uows() as uow:
        listed = await unapplied_stripe_events(uow, 10)
    assert {(e.id, e.outcome) for e in listed} == {
        (refund["id"], "livemode_mismatch"),
        (opened["id"], "livemode_mismatch"),
    }


async def test_a_dispute_closed_with_a_status_we_do_not_know_is_recorded_and_listed() -> None:
    world = World()
    payment = await world.paid()
    odd = sp.event("charge.dispute.closed", dispute(payment, status="prevented"))
    assert await world.deliver(odd) == "unknown_dispute_status"
    assert payment.status is PaymentStatus.SUCCEEDED


# Refunds once per Idempotency-Key


async def test_one_key_refunds_once_even_after_its_webhook_landed() -> None:
    world = World()
    payment = await world.paid()
    ask = RequestRefund(payment.id, None, None, "refund-42")
    first = await request_refund(ask, world.uows, world.stripe, clock)
    assert first.request.amount == 50_000
    landed = sp.event("charge.refunded", world.charge(payment, 50_000, ["re_1"]))
    await world.deliver(landed)
    assert payment.status is PaymentStatus.REFUNDED
    again = await request_refund(ask, world.uows, world.stripe, clock)
    assert (again.request.stripe_refund_id, again.request.refund_amount) == ("re_1", 50_000)
    assert world.stripe.refund_calls == [
        (intent_of(payment), 50_000, None, f"skileez-refund-{payment.id}-refund-42")
    ]


async def test_a_key_sent_with_another_request_is_refused() -> None:
    world = World()
    payment = await world.paid()
    await request_refund(RequestRefund(payment.id, 100, None, "k"), world.uows, world.stripe, clock)
    for other in (
        RequestRefund(payment.id, 200, None, "k"),
        RequestRefund(payment.id, 100, "duplicate", "k"),
        RequestRefund(uuid.uuid4(), 100, None, "k"),
    ):
        with pytest.raises(IdempotencyKeyReused):
            await request_refund(other, world.uows, world.stripe, clock)
    assert len(world.stripe.refund_calls) == 1


async def test_a_retry_after_stripe_failed_asks_the_same_refund_whatever_was_refunded_since() -> (
    None
):
    world = World()
    payment = await world.paid()
    ask = RequestRefund(payment.id, None, None, "k-all")
    world.stripe.unavailable = True
    with pytest.raises(PaymentProviderUnavailable):
        await request_refund(ask, world.uows, world.stripe, clock)
    world.stripe.unavailable = False
    # Another refund landed meanwhile: "all that is left" was resolved when the key was stored.
    await world.deliver(sp.event("charge.refunded", world.charge(payment, 1_000, ["re_0"])))
    done = await request_refund(ask, world.uows, world.stripe, clock)
    assert world.stripe.refund_calls == [
        (intent_of(payment), 50_000, None, f"skileez-refund-{payment.id}-k-all")
    ]
    assert done.request.answered


# Reconciliation's bounded cursor


async def test_reconciliation_moves_past_an_old_event_its_payment_is_not_ready_for() -> None:
    world = World()
    payment = await world.checkout()
    await world.deliver(
        sp.event("checkout.session.completed", world.session(payment, payment_status="unpaid"))
    )
    assert payment.status is PaymentStatus.PROCESSING
    old = dispute(payment)
    listed_old = {**sp.event("charge.dispute.created", old), "created": int(NOW.timestamp()) - 7200}
    world.stripe.events = [listed_old]
    policy = ReconciliationPolicy(livemode=False, lookback=timedelta(hours=1), clock=clock)
    with pytest.raises(PaymentNotReady):
        await world.deliver(listed_old)
    world.uows.database.cursor = NOW - timedelta(hours=3)  # held there by that event so far
    result = await reconcile(world.stripe, world.uows, policy)
    assert (result.deferred, result.skipped) == (0, 1)
    assert world.uows.database.cursor == NOW - timedelta(hours=2)
    stored = world.uows.database.stripe_events[listed_old["id"]]
    assert (stored.outcome, stored.waits_for) == ("unmatched", intent_of(payment))
    async with world.uows() as uow:
        assert [e.id for e in await unapplied_stripe_events(uow, 10)] == [listed_old["id"]]
    # When its payment is paid, the dispute that waited is applied.
    await world.deliver(
        sp.event("checkout.session.async_payment_succeeded", world.session(payment))
    )
    assert payment.status is PaymentStatus.DISPUTED
    assert stored.outcome == "processed"


async def test_operators_find_held_payments_by_status_page_after_page() -> None:
    world = World()
    payment = await held(world, amount=49_999)
    async with world.uows() as uow:
        listed = await list_payments(ListPayments(PaymentStatus.HELD_FOR_REVIEW, None, 10), uow)
        assert listed == [payment]
        assert await list_payments(ListPayments(PaymentStatus.SUCCEEDED, None, 10), uow) == []
        after = (payment.created_at, payment.id)
        next_page = ListPayments(PaymentStatus.HELD_FOR_REVIEW, after, 10)
        assert await list_payments(next_page, uow) == []


async def test_a_replayed_completion_of_a_disputed_duplicate_leaves_it_disputed() -> None:
    world = World()
    _, second = await duplicate(world)
    assert await world.deliver(sp.event("charge.dispute.created", dispute(second))) == "processed"
    assert second.status is PaymentStatus.DISPUTED
    replay = sp.event("checkout.session.completed", world.session(second))
    await world.deliver(replay)
    assert second.status is PaymentStatus.DISPUTED
    assert world.outbox.count(Held) == 1


async def test_a_held_payment_sent_back_leaves_the_contract_to_pay_on_its_page() -> None:
    world = World()
    payment = await held(world, amount=49_999)
    await review_payment(review(payment, ReviewDecision.REFUND), world.uows, world.stripe, POLICY)
    refunded = sp.event("charge.refunded", world.charge(payment, 49_999, ["re_1"], amount=49_999))
    assert await world.deliver(refunded) == "processed"
    async with world.uows() as uow:
        attempts = await uow.payments.of_contract(world.contract.id)
    standing, _ = ContractPayments(world.contract, attempts).where_it_stands()
    assert standing is Standing.UNPAID


async def test_a_held_payment_partly_refunded_at_stripe_cannot_be_approved() -> None:
    world = World()
    payment = await paid_after_expiry(world)
    partial = sp.event("charge.refunded", world.charge(payment, 10_000, ["re_1"]))
    assert await world.deliver(partial) == "processed"
    with pytest.raises(CannotApprove, match="refunded already"):
        await review_payment(
            review(payment, ReviewDecision.APPROVE), world.uows, world.stripe, POLICY
        )
    assert payment.status is PaymentStatus.HELD_FOR_REVIEW
