"""Whole flows against the Stripe emulator: success and cancel pages, refunds, reconciliation,
and the emulator's duplicate-and-reorder delivery mode."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from skileez_events import CloudEvent
from skileez_events.testing import tap, wait_until
from skileez_payments.adapters.tables import outbox, reconciliation_cursor, stripe_events
from skileez_payments.adapters.tables import payments as payments_table
from skileez_payments.adapters.unit_of_work import ADVISORY_LOCK
from skileez_payments.entrypoints.resources import ENGINE, RECONCILER, STRIPE
from skileez_web.auth import Role

from .conftest import Payments


async def start(payments: Payments, **contract: Any) -> tuple[Any, dict[str, Any]]:
    learnt = await payments.learn_contract(**contract)
    response = await payments.pay(learnt)
    assert response.status == 201, await response.text()
    return learnt, await response.json()


async def wait_for_status(payments: Payments, payment_id: str, status: str) -> None:
    async def reached() -> bool:
        return (await payments.payment(payment_id))["status"] == status

    await wait_until(reached)


async def published_types(payments: Payments) -> list[str]:
    async with AsyncSession(payments.app[ENGINE]) as session:
        rows = await session.scalars(select(outbox.table.c.event_type).order_by(outbox.table.c.seq))
        return [row.split(".")[2] for row in rows]


def success_path(contract: Any, checkout: dict[str, Any]) -> str:
    return (
        f"/contracts/{contract.contract_id}/payment-success"
        f"?session_id={checkout['checkout_session_id']}"
    )


async def test_the_success_page_before_the_webhook_fulfils_and_the_webhook_is_a_no_op(
    payments: Payments,
) -> None:
    contract, checkout = await start(payments, amount=4_200, currency="eur")
    await payments.emulator.drop_next_deliveries(100)  # the webhooks are late, say
    await payments.emulator.complete_session(checkout["checkout_session_id"], "paid")
    page = await payments.client.get(
        success_path(contract, checkout),
        headers=payments.headers(contract.student_id, Accept="text/html"),
    )
    assert page.status == 200
    text = await page.text()
    assert "your payment is confirmed" in text
    assert "€42.00" in text
    assert checkout["payment_id"] in text
    assert f"/contracts/{contract.contract_id}/schedule" in text  # the link to the scheduling page
    assert (await payments.payment(checkout["payment_id"]))["status"] == "succeeded"
    # The webhook arrives after all (reconciliation reads it): it changes nothing.
    result = await payments.app[RECONCILER].reconcile()
    assert result.ran
    assert await published_types(payments) == ["PaymentSucceeded"]


async def test_the_success_page_after_the_webhook_shows_the_receipt_without_a_second_event(
    payments: Payments,
) -> None:
    contract, checkout = await start(payments)
    await payments.emulator.complete_session(checkout["checkout_session_id"], "paid")
    await wait_for_status(payments, checkout["payment_id"], "succeeded")
    for _ in range(2):
        page = await payments.client.get(
            success_path(contract, checkout), headers=payments.headers(contract.student_id)
        )
        assert page.status == 200
        assert "your payment is confirmed" in await page.text()
    assert await published_types(payments) == ["PaymentSucceeded"]


async def test_a_delayed_payment_shows_as_processing_then_settles(payments: Payments) -> None:
    contract, checkout = await start(payments)
    await payments.emulator.complete_session(checkout["checkout_session_id"], "pending_async")
    page = await payments.client.get(
        success_path(contract, checkout), headers=payments.headers(contract.student_id)
    )
    assert "Your payment is processing" in await page.text()
    await payments.emulator.settle(checkout["checkout_session_id"], "succeeded")
    await wait_for_status(payments, checkout["payment_id"], "succeeded")
    assert await published_types(payments) == ["PaymentProcessing", "PaymentSucceeded"]


async def test_the_success_page_refuses_a_session_not_of_its_contract_without_asking_stripe(
    payments: Payments,
) -> None:
    contract, _ = await start(payments)
    _, other_checkout = await start(payments)
    asked = len(payments.stripe.on_demand)
    for session_id in ("cs_test_made_up_by_anyone", other_checkout["checkout_session_id"]):
        path = success_path(contract, {"checkout_session_id": session_id})
        answer = await payments.client.get(path, headers=payments.headers(contract.student_id))
        assert answer.status == 404
        assert answer.content_type == "application/problem+json"
        assert (await answer.json())["code"] == "session_not_found"
        page = await payments.client.get(
            path, headers=payments.headers(contract.student_id, Accept="text/html")
        )
        assert (page.status, page.content_type) == (404, "text/html")
        assert "We cannot find this payment" in await page.text()
    assert payments.stripe.on_demand[asked:] == []


async def test_the_cancel_page_says_the_contract_is_pending_and_offers_a_retry(
    payments: Payments,
) -> None:
    contract, _ = await start(payments)
    page = await payments.client.get(
        f"/contracts/{contract.contract_id}/payment-cancel",
        headers=payments.headers(contract.student_id),
    )
    text = await page.text()
    assert page.status == 200
    assert "pending" in text
    assert f'action="/contracts/{contract.contract_id}/pay"' in text


async def test_partial_then_full_refund_through_stripe_reaches_the_contract_by_event(
    payments: Payments,
) -> None:
    contract, checkout = await start(payments, amount=10_000)
    await payments.emulator.complete_session(checkout["checkout_session_id"], "paid")
    await wait_for_status(payments, checkout["payment_id"], "succeeded")
    refunds = f"/payments/{checkout['payment_id']}/refunds"
    admin = payments.headers("admin-1", Role.ADMIN, **{"Idempotency-Key": "partial-1"})

    student = await payments.client.post(
        refunds, json={"amount": 1}, headers=payments.headers(contract.student_id)
    )
    assert student.status == 403
    too_much = await payments.client.post(
        refunds,
        json={"amount": 10_001},
        headers=payments.headers("admin-1", Role.ADMIN, **{"Idempotency-Key": "too-much-1"}),
    )
    assert too_much.status == 409

    async with tap(payments.amqp_url, payments.names, "skileez.payments.PaymentRefunded.#") as got:
        partial = await payments.client.post(
            refunds, json={"amount": 2_500, "reason": "requested_by_customer"}, headers=admin
        )
        assert partial.status == 202, await partial.text()
        # The same request again with its key (a double submit) refunds nothing more.
        repeat = await payments.client.post(
            refunds, json={"amount": 2_500, "reason": "requested_by_customer"}, headers=admin
        )
        assert (await repeat.json())["stripe_refund_id"] == (await partial.json())[
            "stripe_refund_id"
        ]
        await wait_for_status(payments, checkout["payment_id"], "partially_refunded")
        rest = payments.headers("admin-1", Role.ADMIN, **{"Idempotency-Key": "rest-1"})
        full = await payments.client.post(refunds, json={}, headers=rest)
        assert full.status == 202
        assert (await full.json())["amount"] == 7_500
        await wait_for_status(payments, checkout["payment_id"], "refunded")
        await wait_until(lambda: len(got) >= 2)
    data = [CloudEvent.from_json(message.body).data for message in got]
    assert [(d["refund_amount"], d["total_refunded"], d["fully_refunded"]) for d in data] == [
        (2_500, 2_500, False),
        (7_500, 10_000, True),
    ]
    more = payments.headers("admin-1", Role.ADMIN, **{"Idempotency-Key": "more-1"})
    nothing_left = await payments.client.post(refunds, json={}, headers=more)
    assert nothing_left.status == 409


async def test_a_dispute_opened_at_stripe_marks_the_payment_disputed(payments: Payments) -> None:
    _, checkout = await start(payments)
    completed = await payments.emulator.complete_session(checkout["checkout_session_id"], "paid")
    await wait_for_status(payments, checkout["payment_id"], "succeeded")
    charge_id = completed["charge"]["id"]
    await payments.emulator.dispute(charge_id)
    await wait_for_status(payments, checkout["payment_id"], "disputed")


async def test_reconciliation_recovers_an_event_whose_delivery_was_dropped(
    payments: Payments,
) -> None:
    _, checkout = await start(payments)
    await payments.emulator.drop_next_deliveries(100)
    await payments.emulator.complete_session(checkout["checkout_session_id"], "paid")
    assert (await payments.payment(checkout["payment_id"]))["status"] == "open"
    result = await payments.app[RECONCILER].reconcile()
    assert result.ran
    assert result.recovered >= 1
    assert (await payments.payment(checkout["payment_id"]))["status"] == "succeeded"
    assert await published_types(payments) == ["PaymentSucceeded"]
    async with AsyncSession(payments.app[ENGINE]) as session:
        sources = set(await session.scalars(select(stripe_events.c.source)))
    assert sources == {"reconciliation"}
    # A second pass finds nothing new.
    assert (await payments.app[RECONCILER].reconcile()).recovered == 0


async def test_duplicate_and_reordered_deliveries_still_make_one_outcome_per_payment(
    payments: Payments,
) -> None:
    await payments.emulator.set_chaos(duplicate_probability=0.7, max_delay=0.4, seed=7)
    started = [await start(payments, amount=1_000 + n) for n in range(4)]
    for n, (_, checkout) in enumerate(started):
        outcome = "paid" if n % 2 == 0 else "declined"
        await payments.emulator.complete_session(checkout["checkout_session_id"], outcome)
    await wait_for_status(payments, started[0][1]["payment_id"], "succeeded")
    await wait_for_status(payments, started[2][1]["payment_id"], "succeeded")
    await wait_for_status(payments, started[1][1]["payment_id"], "failed")
    await wait_for_status(payments, started[3][1]["payment_id"], "failed")
    await payments.emulator.wait_for_delivery(outcome="delivered")
    assert sorted(await published_types(payments)) == [
        "PaymentFailed",
        "PaymentFailed",
        "PaymentSucceeded",
        "PaymentSucceeded",
    ]


async def test_reconciliation_on_several_replicas_runs_one_pass_at_a_time_and_applies_once(
    payments: Payments,
) -> None:
    _, checkout = await start(payments)
    await payments.emulator.drop_next_deliveries(100)
    await payments.emulator.complete_session(checkout["checkout_session_id"], "paid")
    reconciler = payments.app[RECONCILER]

    # Another replica is in the middle of a pass: this one stands aside and changes nothing.
    async with payments.app[ENGINE].connect() as other_replica:
        await other_replica.scalar(select(func.pg_advisory_lock(ADVISORY_LOCK)))
        assert not (await reconciler.reconcile()).ran
        assert (await payments.payment(checkout["payment_id"]))["status"] == "open"
        await other_replica.scalar(select(func.pg_advisory_unlock(ADVISORY_LOCK)))

    # Passes racing from several replicas: the missed event is applied exactly once.
    results = await asyncio.gather(*(reconciler.reconcile() for _ in range(5)))
    assert sum(result.recovered for result in results) == 1
    assert (await payments.payment(checkout["payment_id"]))["status"] == "succeeded"
    assert await published_types(payments) == ["PaymentSucceeded"]


async def refund_before_the_completion_is_delivered(
    payments: Payments, checkout: dict[str, Any]
) -> None:
    """Pay at Stripe with the completion's delivery lost, then refund there: the refund's
    webhook finds no payment for its PaymentIntent and is recorded unmatched."""
    await payments.emulator.drop_next_deliveries(100)
    completed = await payments.emulator.complete_session(checkout["checkout_session_id"], "paid")
    await payments.emulator.drop_next_deliveries(0)
    await payments.app[STRIPE].create_refund(
        completed["payment_intent"]["id"], None, "requested_by_customer", "refund-at-stripe"
    )
    await payments.emulator.wait_for_delivery(outcome="delivered", event_type="charge.refunded")
    assert (await outcomes(payments))["charge.refunded"] == "unmatched"


async def test_a_refund_delivered_before_the_payment_it_refunds_is_applied_by_reconciliation(
    payments: Payments,
) -> None:
    """Refunded at Stripe while the completion's delivery is lost: the refund's webhook finds no
    payment for its PaymentIntent and is recorded unmatched. Reconciliation applies the
    completion, whose payment, once paid, applies the refund waiting for its intent, so the
    contract does not stay paid for money returned."""
    _, checkout = await start(payments, amount=3_000)
    await refund_before_the_completion_is_delivered(payments, checkout)
    assert (await payments.payment(checkout["payment_id"]))["status"] == "open"

    result = await payments.app[RECONCILER].reconcile()
    assert (result.recovered, result.deferred) == (1, 0)  # the refund came with the completion
    payment = await payments.payment(checkout["payment_id"])
    assert (payment["status"], payment["amount_refunded"]) == ("refunded", 3_000)
    assert await published_types(payments) == ["PaymentSucceeded", "PaymentRefunded"]
    assert await outcomes(payments) == {
        "charge.refunded": "processed",
        "checkout.session.completed": "processed",
        "refund.created": "ignored",
    }
    again = await payments.app[RECONCILER].reconcile()
    assert (again.recovered, again.deferred) == (0, 0)


async def test_a_refund_waiting_for_its_payment_is_applied_when_the_success_page_pays_it(
    payments: Payments,
) -> None:
    """The completion's delivery is lost and the refund's arrives first, unmatched; the success
    page, which settles the session from Stripe, makes the payment paid and applies the refund
    in the same transaction."""
    contract, checkout = await start(payments, amount=3_000)
    await refund_before_the_completion_is_delivered(payments, checkout)

    page = await payments.client.get(
        success_path(contract, checkout), headers=payments.headers(contract.student_id)
    )
    assert page.status == 200
    payment = await payments.payment(checkout["payment_id"])
    assert (payment["status"], payment["amount_refunded"]) == ("refunded", 3_000)
    assert await published_types(payments) == ["PaymentSucceeded", "PaymentRefunded"]
    assert (await outcomes(payments))["charge.refunded"] == "processed"


async def test_an_unmatched_refund_is_read_again_on_every_pass_while_it_is_recent(
    payments: Payments,
) -> None:
    """A refund whose PaymentIntent no payment of ours has holds the cursor, within the
    lookback, so each pass tries it again; it stays unmatched and changes nothing."""
    _, checkout = await start(payments)
    completed = await payments.emulator.complete_session(checkout["checkout_session_id"], "paid")
    await wait_for_status(payments, checkout["payment_id"], "succeeded")
    async with AsyncSession(payments.app[ENGINE]) as session:  # the intent is someone else's
        await session.execute(
            update(payments_table)
            .where(payments_table.c.id == checkout["payment_id"])
            .values(payment_intent_id="pi_of_another")
        )
        await session.commit()
    refund = await payments.app[STRIPE].create_refund(
        completed["payment_intent"]["id"], None, None, "refund-of-an-unknown-intent"
    )
    await payments.emulator.wait_for_delivery(outcome="delivered", event_type="charge.refunded")
    await payments.emulator.advance_clock(5)  # a later event, in a later second
    _, later = await start(payments)
    await payments.emulator.complete_session(later["checkout_session_id"], "paid")
    await wait_for_status(payments, later["payment_id"], "succeeded")
    for _ in range(2):
        result = await payments.app[RECONCILER].reconcile()
        assert (result.recovered, result.deferred) == (0, 1)
        assert (await outcomes(payments))["charge.refunded"] == "unmatched"
        async with AsyncSession(payments.app[ENGINE]) as session:
            cursor = await session.scalar(select(reconciliation_cursor.c.created_since))
        assert cursor is not None
        assert int(cursor.timestamp()) == refund["created"]  # not the later completion's
    assert (await payments.payment(checkout["payment_id"]))["status"] == "succeeded"
    assert await published_types(payments) == ["PaymentSucceeded", "PaymentSucceeded"]


async def outcomes(payments: Payments) -> dict[str, str]:
    async with AsyncSession(payments.app[ENGINE]) as session:
        rows = await session.execute(select(stripe_events.c.type, stripe_events.c.outcome))
        return {row.type: row.outcome for row in rows}
