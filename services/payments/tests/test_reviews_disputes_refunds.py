"""Held payments reviewed, disputes to their close, refunds once per Idempotency-Key, and the
Stripe events no payment took: the service on real PostgreSQL and RabbitMQ, with signed
payloads and the Stripe emulator where Stripe must act (a checkout paid, a refund made)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp

from skileez_events import CloudEvent
from skileez_events.testing import tap, wait_until
from skileez_web.auth import Role

from . import stripe_payloads as sp
from .conftest import STRIPE_KEY, Payments
from .test_webhooks import Checkout, open_checkout, outbox_types


def admin(payments: Payments, **extra: str) -> dict[str, str]:
    return payments.headers("admin-1", Role.ADMIN, **extra)


async def wait_for_status(checkout: Checkout, status: str) -> None:
    async def reached() -> bool:
        return await checkout.status() == status

    await wait_until(reached)


async def held_after_expiry(payments: Payments) -> Checkout:
    """Our attempt's session expired (as Stripe told us), then Stripe says it was paid: held.
    The session is still open at the emulator, which can take its money for real."""
    checkout = await open_checkout(payments)
    expired = checkout.session(status="expired", payment_status="unpaid")
    await checkout.deliver(sp.event("checkout.session.expired", expired))
    await payments.emulator.complete_session(checkout.session_id, "paid")
    await wait_for_status(checkout, "held_for_review")
    return checkout


async def review(
    payments: Payments, checkout: Checkout, decision: str, note: str = "looked at it"
) -> aiohttp.ClientResponse:
    return await payments.client.post(
        f"/payments/{checkout.payment_id}/review",
        json={"decision": decision, "note": note},
        headers=admin(payments),
    )


async def refunds_at_stripe(payments: Payments, checkout: Checkout) -> list[dict[str, Any]]:
    intent = (await payments.payment(checkout.payment_id))["payment_intent_id"]
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{payments.emulator.base_url}/v1/refunds",
            params={"payment_intent": intent, "limit": "100"},
            headers={"Authorization": f"Bearer {STRIPE_KEY}"},
        ) as response,
    ):
        assert response.status == 200, await response.text()
        listed: list[dict[str, Any]] = (await response.json())["data"]
        return listed


# Held payments


async def test_a_payment_paid_after_expiry_is_held_published_then_approved_by_an_admin(
    payments: Payments,
) -> None:
    async with tap(payments.amqp_url, payments.names, "skileez.payments.#") as got:
        checkout = await held_after_expiry(payments)
        student = await payments.client.post(
            f"/payments/{checkout.payment_id}/review",
            json={"decision": "approve", "note": "mine"},
            headers=payments.headers(checkout.contract.student_id),
        )
        assert student.status == 403
        approved = await review(payments, checkout, "approve", "paid a minute late: fine")
        assert approved.status == 200, await approved.text()
        body = await approved.json()
        assert body["payment"]["status"] == "succeeded"
        assert (body["review"]["decision"], body["review"]["reviewer"]) == ("approve", "admin-1")
        await wait_until(lambda: len(got) >= 3)
    types = [CloudEvent.from_json(message.body).type.split(".")[2] for message in got]
    assert types == ["PaymentFailed", "PaymentHeld", "PaymentSucceeded"]
    held = CloudEvent.from_json(got[1].body).data
    assert (held["amount"], held["reason"]) == (
        checkout.contract.amount,
        "paid after the checkout session expired",
    )
    listed = await payments.client.get(
        f"/payments/{checkout.payment_id}/reviews", headers=admin(payments)
    )
    [recorded] = (await listed.json())["reviews"]
    assert (recorded["note"], recorded["reviewer"]) == ("paid a minute late: fine", "admin-1")
    again = await review(payments, checkout, "approve")
    assert (again.status, (await again.json())["code"]) == (409, "not_held_for_review")


async def test_a_payment_held_for_another_amount_cannot_be_approved(payments: Payments) -> None:
    checkout = await open_checkout(payments)
    outcome = await checkout.deliver(checkout.completed(amount=checkout.contract.amount - 1))
    assert outcome["outcome"] == "held"
    refused = await review(payments, checkout, "approve")
    assert refused.status == 409
    problem = await refused.json()
    assert problem["code"] == "cannot_approve"
    assert "charged 49999 eur where 50000 eur was asked" in problem["detail"]
    assert await checkout.status() == "held_for_review"
    assert await outbox_types(payments) == ["PaymentHeld"]
    listed = await payments.client.get(
        f"/payments/{checkout.payment_id}/reviews", headers=admin(payments)
    )
    assert (await listed.json())["reviews"] == []


async def test_a_held_payment_refunded_at_review_is_refunded_whole_at_stripe_once(
    payments: Payments,
) -> None:
    checkout = await held_after_expiry(payments)
    refund = await review(payments, checkout, "refund", "the student asked for their money")
    assert refund.status == 200, await refund.text()
    stripe_refund_id = (await refund.json())["review"]["stripe_refund_id"]
    assert stripe_refund_id
    await wait_for_status(checkout, "refunded")
    assert (await payments.payment(checkout.payment_id))["amount_refunded"] == (
        checkout.contract.amount
    )
    assert await outbox_types(payments) == ["PaymentFailed", "PaymentHeld", "PaymentRefunded"]
    [refunded] = await refunds_at_stripe(payments, checkout)
    assert (refunded["id"], refunded["amount"]) == (stripe_refund_id, checkout.contract.amount)
    # The student may pay the contract again: the held payment never paid it.
    again = await payments.pay(checkout.contract)
    assert again.status == 201, await again.text()


async def test_a_refund_at_stripe_of_a_held_payment_is_applied_not_deferred(
    payments: Payments,
) -> None:
    checkout = await open_checkout(payments)
    await checkout.deliver(checkout.completed(currency="usd"))
    refunded = sp.charge(
        checkout.intent_id,
        amount=checkout.contract.amount,
        currency="usd",
        amount_refunded=checkout.contract.amount,
        refund_ids=["re_dashboard"],
    )
    answer = await checkout.deliver(sp.event("charge.refunded", refunded))
    assert answer["outcome"] == "processed"
    assert await checkout.status() == "refunded"


# Disputes


async def test_a_dispute_is_published_when_opened_and_when_closed_lost(payments: Payments) -> None:
    checkout = await open_checkout(payments)
    await checkout.deliver(checkout.completed())
    dispute = sp.dispute(checkout.intent_id, amount=checkout.contract.amount, currency="eur")
    async with tap(payments.amqp_url, payments.names, "skileez.payments.#") as got:
        await checkout.deliver(sp.event("charge.dispute.created", dispute))
        assert await checkout.status() == "disputed"
        withdrawn = await checkout.deliver(sp.event("charge.dispute.funds_withdrawn", dispute))
        assert withdrawn["outcome"] == "recorded"
        lost = {**dispute, "status": "lost"}
        await checkout.deliver(sp.event("charge.dispute.closed", lost))

        def disputes() -> list[CloudEvent]:
            published = (CloudEvent.from_json(message.body) for message in got)
            return [event for event in published if "Dispute" in event.type]

        await wait_until(lambda: len(disputes()) >= 2)
    opened, closed = disputes()
    assert opened.type == "skileez.payments.PaymentDisputed.v1"
    assert (opened.data["stripe_dispute_id"], opened.data["reason"]) == (
        dispute["id"],
        "fraudulent",
    )
    assert closed.type == "skileez.payments.PaymentDisputeClosed.v1"
    assert (closed.data["outcome"], closed.subject) == ("lost", str(checkout.contract.contract_id))
    payment = await payments.payment(checkout.payment_id)
    assert (payment["status"], payment["dispute_outcome"]) == ("refunded", "lost")


async def test_a_dispute_won_puts_the_payment_back_to_succeeded(payments: Payments) -> None:
    checkout = await open_checkout(payments)
    await checkout.deliver(checkout.completed())
    dispute = sp.dispute(checkout.intent_id, amount=checkout.contract.amount, currency="eur")
    await checkout.deliver(sp.event("charge.dispute.created", dispute))
    await checkout.deliver(sp.event("charge.dispute.closed", {**dispute, "status": "won"}))
    reinstated = await checkout.deliver(sp.event("charge.dispute.funds_reinstated", dispute))
    assert reinstated["outcome"] == "recorded"
    assert await checkout.status() == "succeeded"
    assert await outbox_types(payments) == [
        "PaymentSucceeded",
        "PaymentDisputed",
        "PaymentDisputeClosed",
    ]


async def test_a_refund_or_dispute_of_the_other_mode_is_recorded_not_applied_and_listed(
    payments: Payments,
) -> None:
    checkout = await open_checkout(payments)
    await checkout.deliver(checkout.completed())
    live_refund = sp.event("charge.refunded", checkout.charge(100, ["re_live"]), livemode=True)
    assert (await checkout.deliver(live_refund))["outcome"] == "livemode_mismatch"
    assert await checkout.status() == "succeeded"
    stranger = sp.event("charge.refunded", checkout.charge(100, ["re_x"]))
    stranger["data"]["object"]["payment_intent"] = f"pi_{uuid.uuid4().hex[:24]}"
    assert (await checkout.deliver(stranger))["outcome"] == "unmatched"
    listed = await payments.client.get("/payments/unmatched-events", headers=admin(payments))
    assert listed.status == 200, await listed.text()
    events = {event["id"]: event["outcome"] for event in (await listed.json())["events"]}
    assert events == {live_refund["id"]: "livemode_mismatch", stranger["id"]: "unmatched"}
    student = await payments.client.get(
        "/payments/unmatched-events", headers=payments.headers(checkout.contract.student_id)
    )
    assert student.status == 403


# Refunds once per Idempotency-Key


async def test_a_refund_retried_with_its_key_after_its_webhook_landed_refunds_once(
    payments: Payments,
) -> None:
    checkout = await open_checkout(payments)
    await payments.emulator.complete_session(checkout.session_id, "paid")
    await wait_for_status(checkout, "succeeded")
    path = f"/payments/{checkout.payment_id}/refunds"
    keyless = await payments.client.post(path, json={}, headers=admin(payments))
    assert (keyless.status, (await keyless.json())["code"]) == (400, "idempotency_key_required")

    keyed = admin(payments, **{"Idempotency-Key": "refund-all-1"})
    first = await payments.client.post(path, json={}, headers=keyed)
    assert first.status == 202, await first.text()
    await wait_for_status(checkout, "refunded")
    retried = await payments.client.post(path, json={}, headers=keyed)
    assert retried.status == 202, await retried.text()
    assert await retried.json() == await first.json()
    reused = await payments.client.post(path, json={"amount": 1}, headers=keyed)
    assert (reused.status, (await reused.json())["code"]) == (409, "idempotency_key_reused")
    assert len(await refunds_at_stripe(payments, checkout)) == 1
    assert await outbox_types(payments) == ["PaymentSucceeded", "PaymentRefunded"]


# Races


async def test_ten_concurrent_retries_of_one_refund_key_make_one_refund(
    payments: Payments,
) -> None:
    checkout = await open_checkout(payments)
    await payments.emulator.complete_session(checkout.session_id, "paid")
    await wait_for_status(checkout, "succeeded")
    keyed = admin(payments, **{"Idempotency-Key": "raced-1"})
    answers = await asyncio.gather(
        *(
            payments.client.post(
                f"/payments/{checkout.payment_id}/refunds", json={"amount": 700}, headers=keyed
            )
            for _ in range(10)
        )
    )
    assert {answer.status for answer in answers} == {202}
    assert len({(await answer.json())["stripe_refund_id"] for answer in answers}) == 1
    assert [refund["amount"] for refund in await refunds_at_stripe(payments, checkout)] == [700]


async def test_an_approval_and_a_refund_decided_at_once_decide_once(payments: Payments) -> None:
    checkout = await held_after_expiry(payments)
    approved, refunded = await asyncio.gather(
        review(payments, checkout, "approve"), review(payments, checkout, "refund")
    )
    statuses = sorted([approved.status, refunded.status])
    assert statuses == [200, 409], statuses
    loser = approved if approved.status == 409 else refunded
    assert (await loser.json())["code"] in {"cannot_approve", "not_held_for_review"}
    listed = await payments.client.get(
        f"/payments/{checkout.payment_id}/reviews", headers=admin(payments)
    )
    assert len((await listed.json())["reviews"]) == 1
    if approved.status == 200:
        assert await checkout.status() == "succeeded"
        assert await refunds_at_stripe(payments, checkout) == []
    else:
        await wait_for_status(checkout, "refunded")


async def test_operators_list_held_payments_page_by_page(payments: Payments) -> None:
    held = [await held_after_expiry(payments) for _ in range(3)]
    await open_checkout(payments)  # an open one, not listed under held_for_review

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {
            "status": "held_for_review",
            "limit": "2",
            **({"cursor": cursor} if cursor else {}),
        }
        answer = await payments.client.get("/payments", params=params, headers=admin(payments))
        assert answer.status == 200, await answer.text()
        body = await answer.json()
        assert all(item["status"] == "held_for_review" for item in body["payments"])
        seen += [item["id"] for item in body["payments"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 2
    assert seen == [str(checkout.payment_id) for checkout in reversed(held)]  # newest first

    student = await payments.client.get("/payments", headers=payments.headers("student-1"))
    assert student.status == 403
    forged = await payments.client.get(
        "/payments", params={"cursor": "not-ours"}, headers=admin(payments)
    )
    assert (forged.status, (await forged.json())["code"]) == (422, "invalid_cursor")
