"""The routes that call Stripe (pay, the success page, refunds, reviews) are limited per user and
route: past the limit, 429 `rate_limited` with `Retry-After`, and the request reaches neither
Stripe (the recorder in front of the emulator saw nothing) nor the database (nothing written,
and an id the database does not know is refused the same, not looked up)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from skileez_events.testing import wait_until
from skileez_payments.adapters.tables import outbox, payment_reviews, refund_requests
from skileez_payments.adapters.tables import payments as payments_table
from skileez_payments.entrypoints.resources import ENGINE
from skileez_web.auth import Role

from .conftest import Payments, StartPayments
from .test_reviews_disputes_refunds import held_after_expiry
from .test_webhooks import open_checkout

TIGHT = {"stripe_route_limit_per_minute": 1, "stripe_route_limit_burst": 2}
"""Two requests at once, then one a minute."""

Send = Callable[[], Awaitable[ClientResponse]]


async def rows(payments: Payments) -> dict[str, int]:
    async with AsyncSession(payments.app[ENGINE]) as session:
        return {
            table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (payments_table, refund_requests, payment_reviews, outbox.table)
        }


async def assert_refused_untouched(payments: Payments, *sends: Send) -> None:
    """Each request is 429 with Retry-After, and neither Stripe nor the database saw it."""
    before = (list(payments.stripe.on_demand), await rows(payments))
    for send in sends:
        answer = await send()
        assert answer.status == 429, await answer.text()
        assert answer.content_type == "application/problem+json"
        assert (await answer.json())["code"] == "rate_limited"
        assert 1 <= int(answer.headers["Retry-After"]) <= 60
    assert (payments.stripe.on_demand, await rows(payments)) == before


def admin(payments: Payments, **extra: str) -> dict[str, str]:
    return payments.headers("admin-1", Role.ADMIN, **extra)


async def test_pay_past_the_limit_is_429_and_reaches_neither_stripe_nor_the_database(
    start_payments: StartPayments,
) -> None:
    payments = await start_payments(**TIGHT)
    contract = await payments.learn_contract()
    assert (await payments.pay(contract)).status == 201
    assert (await payments.pay(contract)).status == 200  # the open session, asked of Stripe
    assert payments.stripe.on_demand
    student = payments.headers(contract.student_id)
    await assert_refused_untouched(
        payments,
        lambda: payments.pay(contract),
        lambda: payments.client.post(f"/contracts/{uuid.uuid4()}/pay", headers=student),
    )


async def test_the_success_page_past_the_limit_is_429_for_apis_and_a_page_for_browsers(
    start_payments: StartPayments,
) -> None:
    payments = await start_payments(**TIGHT)
    checkout = await open_checkout(payments)
    student = checkout.contract.student_id
    path = (
        f"/contracts/{checkout.contract.contract_id}/payment-success"
        f"?session_id={checkout.session_id}"
    )
    for _ in range(2):
        shown = await payments.client.get(path, headers=payments.headers(student))
        assert shown.status == 200
    await assert_refused_untouched(
        payments,
        lambda: payments.client.get(path, headers=payments.headers(student)),
        lambda: payments.client.get(
            f"/contracts/{uuid.uuid4()}/payment-success?session_id={checkout.session_id}",
            headers=payments.headers(student),
        ),
    )
    asked = list(payments.stripe.on_demand)
    page = await payments.client.get(path, headers=payments.headers(student, Accept="text/html"))
    assert (page.status, page.content_type) == (429, "text/html")
    assert 1 <= int(page.headers["Retry-After"]) <= 60
    assert "Please wait a moment" in await page.text()
    assert payments.stripe.on_demand == asked


async def test_refunds_past_the_limit_are_429_and_refund_nothing(
    start_payments: StartPayments,
) -> None:
    payments = await start_payments(**TIGHT)
    checkout = await open_checkout(payments)
    await payments.emulator.complete_session(checkout.session_id, "paid")

    async def succeeded() -> bool:
        return await checkout.status() == "succeeded"

    await wait_until(succeeded)

    def refund(payment_id: Any, key: str) -> Send:
        return lambda: payments.client.post(
            f"/payments/{payment_id}/refunds",
            json={"amount": 100},
            headers=admin(payments, **{"Idempotency-Key": key}),
        )

    for key in ("refund-1", "refund-2"):
        assert (await refund(checkout.payment_id, key)()).status == 202

    async def refunded_at_stripe() -> bool:  # their webhooks applied: nothing more will move
        return (await payments.payment(checkout.payment_id))["amount_refunded"] == 200

    await wait_until(refunded_at_stripe)
    await assert_refused_untouched(
        payments, refund(checkout.payment_id, "refund-3"), refund(uuid.uuid4(), "refund-4")
    )


async def test_reviews_past_the_limit_are_429_and_decide_nothing(
    start_payments: StartPayments,
) -> None:
    payments = await start_payments(**TIGHT)
    held = await held_after_expiry(payments)

    def review(payment_id: Any) -> Send:
        return lambda: payments.client.post(
            f"/payments/{payment_id}/review",
            json={"decision": "refund", "note": "the student asked"},
            headers=admin(payments),
        )

    for _ in range(2):  # spent on payments that do not exist
        assert (await review(uuid.uuid4())()).status == 404
    await assert_refused_untouched(payments, review(held.payment_id), review(uuid.uuid4()))
    assert await held.status() == "held_for_review"


async def test_the_limit_is_each_users_on_each_route(start_payments: StartPayments) -> None:
    payments = await start_payments(**TIGHT)
    contract = await payments.learn_contract()
    for _ in range(2):
        await payments.pay(contract)
    assert (await payments.pay(contract)).status == 429
    other = await payments.learn_contract()
    assert (await payments.pay(other)).status == 201  # another student
    success = await payments.client.get(  # the same student on another route
        f"/contracts/{contract.contract_id}/payment-success?session_id=cs_test_none",
        headers=payments.headers(contract.student_id),
    )
    assert (success.status, (await success.json())["code"]) == (404, "session_not_found")


async def test_the_defaults_are_ten_a_minute_with_a_burst_of_ten(payments: Payments) -> None:
    contract = await payments.learn_contract()
    student = payments.headers(contract.student_id)
    answers = [
        (await payments.client.post(f"/contracts/{uuid.uuid4()}/pay", headers=student)).status
        for _ in range(11)
    ]
    assert answers == [404] * 10 + [429]


async def test_openapi_describes_the_429_and_its_retry_after(payments: Payments) -> None:
    paths = (await (await payments.client.get("/openapi.json")).json())["paths"]
    for path, method in (
        ("/contracts/{id}/pay", "post"),
        ("/contracts/{id}/payment-success", "get"),
        ("/payments/{id}/refunds", "post"),
        ("/payments/{id}/review", "post"),
    ):
        limited = paths[path][method]["responses"]["429"]
        assert "application/problem+json" in limited["content"]
        assert limited["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
