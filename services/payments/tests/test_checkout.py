"""Paying a contract through Checkout, against the Stripe emulator and the real broker."""

from __future__ import annotations

import aiohttp

from skileez_events import CloudEvent
from skileez_events.testing import tap, wait_until

from .conftest import Payments


async def test_a_paid_checkout_publishes_one_payment_succeeded_with_the_checkouts_correlation(
    payments: Payments,
) -> None:
    contract = await payments.learn_contract(amount=12_345, currency="eur")
    async with tap(payments.amqp_url, payments.names, "skileez.payments.#") as published:
        response = await payments.pay(contract, correlation_id="checkout-request-7")
        assert response.status == 201, await response.text()
        checkout = await response.json()
        assert checkout["checkout_url"]

        await payments.emulator.complete_session(checkout["checkout_session_id"], "paid")

        async def succeeded() -> bool:
            payment = await payments.payment(checkout["payment_id"])
            return payment["status"] == "succeeded"

        await wait_until(succeeded)
        await wait_until(lambda: published)
    event = CloudEvent.from_json(published[0].body)
    assert event.type == "skileez.payments.PaymentSucceeded.v1"
    assert event.correlationid == "checkout-request-7"
    assert event.data["contract_id"] == str(contract.contract_id)
    assert event.data["amount"] == 12_345
    assert event.data["stripe_checkout_session_id"] == checkout["checkout_session_id"]
    assert event.data["stripe_payment_intent_id"].startswith("pi_")
    payment = await payments.payment(checkout["payment_id"])
    assert payment["payment_intent_id"] == event.data["stripe_payment_intent_id"]
    assert len(published) == 1


async def test_an_open_session_is_reused_instead_of_a_second_one(payments: Payments) -> None:
    contract = await payments.learn_contract()
    first = await payments.pay(contract)
    second = await payments.pay(contract)
    assert (first.status, second.status) == (201, 200)
    assert (await first.json())["checkout_session_id"] == (await second.json())[
        "checkout_session_id"
    ]
    listed = await payments.client.get(
        f"/contracts/{contract.contract_id}/payments", headers=payments.headers(contract.coach_id)
    )
    assert len((await listed.json())["payments"]) == 1


async def test_only_the_contracts_student_may_pay(payments: Payments) -> None:
    contract = await payments.learn_contract()
    response = await payments.pay(contract, user=contract.coach_id)
    assert response.status == 403
    assert (await response.json())["code"] == "forbidden"
    stranger = await payments.client.get(
        f"/contracts/{contract.contract_id}/pay", headers=payments.headers("someone-else")
    )
    assert stranger.status == 403


async def test_an_unknown_contract_is_404_and_the_page_says_so_politely(payments: Payments) -> None:
    missing = "3f0c9a8e-2d1b-4c55-9a43-0d7c5b0e1a22"
    response = await payments.client.post(
        f"/contracts/{missing}/pay", headers=payments.headers("student-1")
    )
    assert response.status == 404
    assert (await response.json())["code"] == "contract_not_found"
    form = await payments.client.post(
        f"/contracts/{missing}/pay",
        headers=payments.headers("student-1", Accept="text/html"),
        data={},
        allow_redirects=False,
    )
    assert form.status == 404
    assert form.content_type == "text/html"
    assert "We cannot find this contract" in await form.text()


async def test_paying_a_paid_contract_is_409_and_the_page_says_it_is_paid(
    payments: Payments,
) -> None:
    contract = await payments.learn_contract()
    checkout = await (await payments.pay(contract)).json()
    await payments.emulator.complete_session(checkout["checkout_session_id"], "paid")

    async def paid() -> bool:
        return (await payments.payment(checkout["payment_id"]))["status"] == "succeeded"

    await wait_until(paid)
    again = await payments.pay(contract)
    assert again.status == 409
    assert (await again.json())["code"] == "already_paid"
    page = await payments.client.get(
        f"/contracts/{contract.contract_id}/pay",
        headers=payments.headers(contract.student_id, Accept="text/html"),
    )
    assert page.status == 200
    text = await page.text()
    assert "This contract is already paid" in text
    assert "After paying you come back here" not in text
    assert f"mention the contract reference <code>{contract.contract_id}</code>" in text
    form = await payments.client.post(
        f"/contracts/{contract.contract_id}/pay",
        headers=payments.headers(contract.student_id, Accept="text/html"),
        data={},
        allow_redirects=False,
    )
    assert form.status == 409
    assert "This contract is already paid" in await form.text()


async def test_a_browser_form_is_redirected_to_checkout(payments: Payments) -> None:
    contract = await payments.learn_contract(amount=5000, currency="jpy")
    page = await payments.client.get(
        f"/contracts/{contract.contract_id}/pay",
        headers=payments.headers(contract.student_id, Accept="text/html"),
    )
    text = await page.text()
    assert "¥5,000" in text
    assert "What happens next" in text
    form = await payments.client.post(
        f"/contracts/{contract.contract_id}/pay",
        headers=payments.headers(contract.student_id, Accept="text/html"),
        data={},
        allow_redirects=False,
    )
    assert form.status == 303
    reused = await payments.pay(contract)  # the same attempt's Checkout page, as JSON
    assert reused.status == 200
    checkout = await reused.json()
    assert checkout["checkout_url"].endswith(f"/c/pay/{checkout['checkout_session_id']}")
    assert form.headers["Location"] == checkout["checkout_url"]


async def checkout_page(checkout_url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(checkout_url) as page:
        assert page.status == 200
        return await page.text()


async def test_checkout_lists_the_sessions_at_their_price(payments: Payments) -> None:
    contract = await payments.learn_contract(session_count=4, amount=18_000, title="Interviews")
    checkout = await (await payments.pay(contract)).json()
    page = await checkout_page(checkout["checkout_url"])
    assert "Interviews" in page
    assert "4 sessions \N{MULTIPLICATION SIGN} €45.00" in page
    assert 'id="total">€180.00<' in page


async def test_an_amount_that_does_not_split_evenly_is_one_line(payments: Payments) -> None:
    contract = await payments.learn_contract(session_count=3, amount=10_000, title="Chess")
    checkout = await (await payments.pay(contract)).json()
    page = await checkout_page(checkout["checkout_url"])
    assert "1 \N{MULTIPLICATION SIGN} €100.00" in page
    assert "session" not in page


async def test_the_pay_page_names_the_coach_the_event_named(payments: Payments) -> None:
    contract = await payments.learn_contract(coach_name="Coach Rui", student_name="Ana Silva")
    page = await payments.client.get(
        f"/contracts/{contract.contract_id}/pay",
        headers=payments.headers(contract.student_id, Accept="text/html"),
    )
    assert page.status == 200
    text = await page.text()
    assert "<dt>Coach</dt><dd>Coach Rui</dd>" in text
    assert contract.coach_id not in text
    assert "After paying you come back here" in text
