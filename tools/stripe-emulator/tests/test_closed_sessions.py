"""Expiring sessions, refusing to pay a completed or expired one, and sessions Stripe forgot."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import stripe

from stripe_emulator.testing import EmulatorControl, EmulatorRefusal, WebhookReceiver

CANCEL_URL = "https://app.example/contracts/contract-123/payment-cancel"


async def _page(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def _post_page(url: str, method: str = "card_success") -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data={"method": method}, allow_redirects=False) as response,
    ):
        return response.status, await response.text()


async def _refused_by_control(control: EmulatorControl, session_id: str) -> EmulatorRefusal:
    with pytest.raises(EmulatorRefusal) as caught:
        await control.complete_session(session_id, "paid")
    assert caught.value.status == 400
    assert caught.value.code == "checkout_session_not_open"
    assert caught.value.error["type"] == "invalid_request_error"
    return caught.value


async def _charges(client: stripe.StripeClient) -> int:
    return len((await client.v1.charges.list_async()).data)


async def test_expire_an_open_session_then_nothing_can_pay_it(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    params: Any,
) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    page_url = session.url
    assert page_url is not None

    expired = await client.v1.checkout.sessions.expire_async(session.id)
    assert (expired.status, expired.payment_status, expired.url) == ("expired", "unpaid", None)
    event = await receiver.wait_for_event("checkout.session.expired")
    assert event["data"]["object"]["id"] == session.id
    assert event["data"]["object"]["status"] == "expired"
    assert event["request"]["id"], "an API-caused event names its request"
    assert (await client.v1.checkout.sessions.retrieve_async(session.id)).status == "expired"

    status, html = await _page(page_url)
    assert status == 200
    assert "has expired and can no longer be paid" in html
    assert "<form" not in html, "no pay form"
    assert f'<a href="{CANCEL_URL}">Return to the merchant</a>' in html
    status, html = await _post_page(page_url)
    assert status == 409
    assert "can no longer be paid" in html
    refusal = await _refused_by_control(control, session.id)
    assert "expired" in str(refusal)
    assert await _charges(client) == 0, "no money was taken"

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.checkout.sessions.expire_async(session.id)
    assert caught.value.http_status == 400
    assert caught.value.user_message == (
        'Only Checkout Sessions with a status in ["open"] can be expired. '
        "This Checkout Session has a status of `expired`."
    )
    assert len(receiver.events_of_type("checkout.session.expired")) == 1


async def test_expiring_after_a_decline_cancels_the_payment_intent(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    params: Any,
) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    declined = await control.complete_session(session.id, "declined")
    assert declined["session"]["status"] == "open", "a declined card leaves the session open"
    await client.v1.checkout.sessions.expire_async(session.id)
    canceled = await receiver.wait_for_event("payment_intent.canceled")
    assert canceled["data"]["object"]["id"] == declined["payment_intent"]["id"]
    assert canceled["data"]["object"]["cancellation_reason"] == "abandoned"
    await _refused_by_control(control, session.id)


async def test_a_complete_session_cannot_be_expired_nor_paid_again(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    params: Any,
) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    assert session.url is not None
    await control.complete_session(session.id, "paid")

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.checkout.sessions.expire_async(session.id)
    assert caught.value.http_status == 400
    assert caught.value.error is not None
    assert caught.value.error.type == "invalid_request_error"
    assert "This Checkout Session has a status of `complete`." in str(caught.value.user_message)
    retrieved = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert (retrieved.status, retrieved.payment_status) == ("complete", "paid")

    refusal = await _refused_by_control(control, session.id)
    assert "has been paid" in str(refusal)
    status, html = await _post_page(session.url)
    assert (status, "has been paid" in html) == (409, True)
    assert await _charges(client) == 1, "paid once"
    assert receiver.events_of_type("checkout.session.expired") == []


async def test_a_session_whose_delayed_payment_failed_cannot_be_paid(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    params: Any,
) -> None:
    """After `checkout.session.async_payment_failed` the session is complete: Stripe takes no
    more money in it, so the merchant must create a new one."""
    session = await client.v1.checkout.sessions.create_async(params())
    assert session.url is not None
    await control.complete_session(session.id, "pending_async", async_outcome="failed")

    # While the debit is processing the session is complete (unpaid) and not payable either.
    status, html = await _page(session.url)
    assert (status, "the payment is processing" in html) == (200, True)
    refusal = await _refused_by_control(control, session.id)
    assert "processing" in str(refusal)

    await control.settle(session.id, "failed")
    await receiver.wait_for_event("checkout.session.async_payment_failed")
    retrieved = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert (retrieved.status, retrieved.payment_status) == ("complete", "unpaid")

    status, html = await _page(session.url)
    assert status == 200
    assert "The payment for this order failed" in html
    assert "can no longer be paid" in html
    assert "<form" not in html
    assert f'<a href="{CANCEL_URL}">Return to the merchant</a>' in html
    status, html = await _post_page(session.url, "card_success")
    assert (status, "payment for this order failed" in html) == (409, True)
    refusal = await _refused_by_control(control, session.id)
    assert "failed" in str(refusal)
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.checkout.sessions.expire_async(session.id)
    charges = (await client.v1.charges.list_async()).data
    assert [c.status for c in charges] == ["failed"], "no second attempt was made"

    # A new session for the same order can be paid.
    fresh = await client.v1.checkout.sessions.create_async(params())
    paid = await control.complete_session(fresh.id, "paid")
    assert paid["session"]["payment_status"] == "paid"


async def test_a_session_past_expires_at_is_refused(
    client: stripe.StripeClient, control: EmulatorControl, params: Any
) -> None:
    now = (await control.advance_clock(0))["now"]
    session = await client.v1.checkout.sessions.create_async(params(expires_at=now + 1800))
    await control.advance_clock(1801)  # expires it (the sweep runs with the advance)
    await _refused_by_control(control, session.id)
    assert (await client.v1.checkout.sessions.retrieve_async(session.id)).status == "expired"


# Sessions Stripe does not know: `resource_missing` (404) with Stripe's error body.


def _assert_resource_missing(body: dict[str, Any], session_id: str) -> None:
    error = body["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "resource_missing"
    assert error["message"] == f"No such checkout.session: '{session_id}'"
    assert error["param"] == "session"
    assert error["doc_url"].endswith("#resource-missing")
    assert error["request_log_url"]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("POST", "/expire"), ("GET", "/line_items")],
)
async def test_unknown_session_answers_resource_missing_on_the_wire(
    emulator: str, method: str, suffix: str
) -> None:
    session_id = "cs_test_a1NeverCreated"
    headers = {"Authorization": "Bearer sk_test_raw"}
    url = f"{emulator}/v1/checkout/sessions/{session_id}{suffix}"
    async with aiohttp.ClientSession() as http, http.request(method, url, headers=headers) as r:
        assert r.status == 404
        assert r.headers["Request-Id"].startswith("req_")
        _assert_resource_missing(await r.json(), session_id)


async def test_expiring_an_unknown_session_through_the_library(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.checkout.sessions.expire_async("cs_test_a1Gone")
    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"


async def test_a_forgotten_session_is_unknown_everywhere(
    client: stripe.StripeClient, control: EmulatorControl, emulator: str, params: Any
) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    assert session.url is not None
    await control.forget_session(session.id)

    for call in (
        client.v1.checkout.sessions.retrieve_async(session.id),
        client.v1.checkout.sessions.expire_async(session.id),
    ):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await call
        assert caught.value.http_status == 404
        assert caught.value.code == "resource_missing"
        body: Any = caught.value.json_body
        _assert_resource_missing(body, session.id)
    assert (await client.v1.checkout.sessions.list_async()).data == []
    status, _ = await _page(session.url)
    assert status == 404
    with pytest.raises(EmulatorRefusal) as refused:
        await control.complete_session(session.id)
    assert (refused.value.status, refused.value.code) == (404, "resource_missing")
    with pytest.raises(EmulatorRefusal) as again:
        await control.forget_session(session.id)
    assert again.value.status == 404
