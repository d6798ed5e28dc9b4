"""End to end through the hosted page and the stripe library: pay, decline, async, refund."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import aiohttp
import pytest
import stripe

from stripe_emulator.testing import EmulatorControl, WebhookReceiver, wait_until


async def _pay_on_page(url: str, method: str, email: str | None = None) -> aiohttp.ClientResponse:
    """GET the hosted page, then POST its form as a browser would (no redirects followed)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as page:
            assert page.status == 200
            html = await page.text()
        action = re.search(r'<form method="post" action="([^"]+)"', html)
        assert action is not None, "the hosted page has a pay form"
        form = {"method": method, "email": email or ""}
        target = str(page.url.join(aiohttp.client.URL(action.group(1))))
        async with http.post(target, data=form, allow_redirects=False) as response:
            await response.read()
            return response


async def test_pay_on_hosted_page_then_partial_and_full_refund(
    client: stripe.StripeClient, receiver: WebhookReceiver, params: Any
) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    assert session.url is not None
    assert session.status == "open"
    assert session.amount_total == 12000
    assert session.payment_status == "unpaid"

    async with aiohttp.ClientSession() as http, http.get(session.url) as page:
        html = await page.text()
    assert "€120.00" in html
    assert "Coaching session" in html

    response = await _pay_on_page(session.url, "card_success")
    assert response.status == 303
    assert response.headers["Location"] == (
        f"https://app.example/contracts/contract-123/payment-success?session_id={session.id}"
    )

    completed = await receiver.wait_for_event("checkout.session.completed")
    obj = completed["data"]["object"]
    assert obj["id"] == session.id
    assert obj["payment_status"] == "paid"
    assert obj["client_reference_id"] == "contract-123"
    assert obj["metadata"] == {"contract_id": "contract-123"}
    assert completed["livemode"] is False
    assert completed["api_version"]

    # The signature is Stripe's: t=<unix>,v1=<HMAC-SHA256 of "<t>.<raw body>">.
    delivery = next(r for r in receiver.received if r.event == completed)
    assert delivery.signature is not None
    fields = dict(part.split("=", 1) for part in delivery.signature.split(","))
    expected = hmac.new(
        receiver.secret.encode(), f"{fields['t']}.".encode() + delivery.body, hashlib.sha256
    ).hexdigest()
    assert fields["v1"] == expected
    verified = stripe.Webhook.construct_event(delivery.body, delivery.signature, receiver.secret)
    assert verified.type == "checkout.session.completed"

    paid = await client.v1.checkout.sessions.retrieve_async(
        session.id, {"expand": ["payment_intent", "line_items"]}
    )
    intent = paid.payment_intent
    assert isinstance(intent, stripe.PaymentIntent)
    assert intent.status == "succeeded"
    assert intent.amount_received == 12000
    assert intent.metadata["contract_id"] == "contract-123"
    assert paid.line_items is not None
    assert paid.line_items.data[0].quantity == 4
    assert isinstance(intent.latest_charge, str)
    charge_id = intent.latest_charge

    partial = await client.v1.refunds.create_async(
        {"payment_intent": intent.id, "amount": 5000, "reason": "requested_by_customer"}
    )
    assert partial.status == "succeeded"
    assert partial.amount == 5000
    refunded = await receiver.wait_for_event("charge.refunded")
    assert refunded["data"]["object"]["amount_refunded"] == 5000
    assert refunded["data"]["object"]["refunded"] is False
    assert refunded["data"]["previous_attributes"]["amount_refunded"] == 0

    full = await client.v1.refunds.create_async(
        {"charge": charge_id, "metadata": {"reason": "contract cancelled"}}
    )
    assert full.amount == 7000
    assert full.metadata["reason"] == "contract cancelled"
    second = await receiver.wait_for_event(
        "charge.refunded", lambda e: e["data"]["object"]["refunded"] is True
    )
    assert second["data"]["object"]["amount_refunded"] == 12000
    await receiver.wait_for_event("refund.created", lambda e: e["data"]["object"]["id"] == full.id)

    charge = await client.v1.charges.retrieve_async(charge_id)
    assert charge.amount_refunded == 12000
    assert charge.refunded is True
    refunds = await client.v1.refunds.list_async({"charge": charge_id})
    assert [r.id for r in refunds.data] == [full.id, partial.id]
    assert (await client.v1.refunds.retrieve_async(partial.id)).amount == 5000

    with pytest.raises(
        stripe.InvalidRequestError
    ) as caught:  # a refund beyond the captured amount must be refused
        await client.v1.refunds.create_async({"charge": charge_id, "amount": 1})
    assert caught.value.code == "charge_already_refunded"


async def test_refund_larger_than_remaining_is_refused(
    client: stripe.StripeClient, control: EmulatorControl, params: Any
) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    paid = await control.complete_session(session.id, "paid")
    await client.v1.refunds.create_async({"charge": paid["charge"]["id"], "amount": 10000})
    with pytest.raises(
        stripe.InvalidRequestError
    ) as caught:  # refunding more than is left must be refused
        await client.v1.refunds.create_async({"charge": paid["charge"]["id"], "amount": 2001})
    assert caught.value.code == "amount_too_large"
    assert caught.value.param == "amount"
    assert caught.value.http_status == 400


async def test_decline_shows_error_then_customer_pays(
    client: stripe.StripeClient, receiver: WebhookReceiver, params: Any
) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    assert session.url is not None

    declined = await _pay_on_page(session.url, "card_decline")
    assert declined.status == 402
    async with aiohttp.ClientSession() as http, http.get(session.url) as page:
        assert 'method="post"' in await page.text(), "the customer can try again"
    failed = await receiver.wait_for_event("payment_intent.payment_failed")
    assert failed["data"]["object"]["last_payment_error"]["code"] == "card_declined"
    await receiver.wait_for_event("charge.failed")
    still_open = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert still_open.status == "open"
    assert still_open.payment_status == "unpaid"

    paid = await _pay_on_page(session.url, "card_success")
    assert paid.status == 303
    completed = await receiver.wait_for_event("checkout.session.completed")
    assert completed["data"]["object"]["payment_status"] == "paid"
    intent_id = completed["data"]["object"]["payment_intent"]
    assert intent_id == failed["data"]["object"]["id"], "Checkout reuses the PaymentIntent"
    charges = await client.v1.charges.list_async({"payment_intent": intent_id})
    assert sorted(c.status for c in charges.data) == ["failed", "succeeded"]


async def test_decline_page_text(client: stripe.StripeClient, params: Any) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    assert session.url is not None
    async with (
        aiohttp.ClientSession() as http,
        http.post(session.url, data={"method": "card_decline"}) as response,
    ):
        html = await response.text()
    assert 'role="alert"' in html
    assert "Your card was declined." in html


async def test_delayed_payment_succeeds_later(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    params: Any,
) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    assert session.url is not None
    response = await _pay_on_page(session.url, "delayed_success")
    assert response.status == 303

    completed = await receiver.wait_for_event("checkout.session.completed")
    assert completed["data"]["object"]["payment_status"] == "unpaid"
    pending = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert pending.status == "complete"
    assert pending.payment_status == "unpaid"
    assert receiver.events_of_type("checkout.session.async_payment_succeeded") == []

    await control.settle(session.id, "succeeded")
    succeeded = await receiver.wait_for_event("checkout.session.async_payment_succeeded")
    assert succeeded["data"]["object"]["payment_status"] == "paid"
    await receiver.wait_for_event("payment_intent.succeeded")
    settled = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert settled.payment_status == "paid"


async def test_delayed_payment_fails_later(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    params: Any,
) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    result = await control.complete_session(session.id, "pending_async", async_outcome="failed")
    assert result["outcome"] == "processing"
    await receiver.wait_for_event(
        "checkout.session.completed", lambda e: e["data"]["object"]["payment_status"] == "unpaid"
    )
    await control.settle(session.id, "failed")
    failed = await receiver.wait_for_event("checkout.session.async_payment_failed")
    assert failed["data"]["object"]["payment_status"] == "unpaid"
    intent_failed = await receiver.wait_for_event("payment_intent.payment_failed")
    assert intent_failed["data"]["object"]["status"] == "requires_payment_method"


async def test_delayed_payment_settles_by_itself_when_configured(
    receiver: WebhookReceiver, params: Any
) -> None:
    from stripe_emulator.testing import running_emulator

    async with running_emulator(
        webhooks=[(receiver.url, receiver.secret)], async_settlement_delay=0.0
    ) as base_url:
        http = stripe.RequestsClient(async_fallback_client=stripe.AIOHTTPClient())
        client = stripe.StripeClient(
            "sk_test_x", base_addresses={"api": base_url}, http_client=http
        )
        try:
            session = await client.v1.checkout.sessions.create_async(params())
            await EmulatorControl(base_url).complete_session(
                session.id, "pending_async", async_outcome="succeeded"
            )
            await receiver.wait_for_event("checkout.session.async_payment_succeeded")
        finally:
            await http.close_async()


async def test_expiry_through_the_clock(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    params: Any,
) -> None:
    created = await client.v1.checkout.sessions.create_async(params())
    now = (await control.advance_clock(0))["now"]
    soon = await client.v1.checkout.sessions.create_async(params(expires_at=now + 1800))
    advanced = await control.advance_clock(1801)
    assert advanced["expired_sessions"] == 1

    expired = await receiver.wait_for_event("checkout.session.expired")
    assert expired["data"]["object"]["id"] == soon.id
    assert (await client.v1.checkout.sessions.retrieve_async(soon.id)).status == "expired"
    assert (await client.v1.checkout.sessions.retrieve_async(created.id)).status == "open"
    assert soon.url is not None
    async with aiohttp.ClientSession() as http, http.get(soon.url) as page:
        assert "expired" in await page.text()
    with pytest.raises(
        stripe.InvalidRequestError
    ) as caught:  # an expired session cannot be expired again
        await client.v1.checkout.sessions.expire_async(soon.id)
    assert caught.value.http_status == 400


async def test_expire_through_the_api(
    client: stripe.StripeClient, receiver: WebhookReceiver, params: Any
) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    expired = await client.v1.checkout.sessions.expire_async(session.id)
    assert expired.status == "expired"
    assert expired.url is None
    event = await receiver.wait_for_event("checkout.session.expired")
    assert event["request"]["id"] is not None, "API-caused events carry the request id"


async def test_zero_decimal_currency(client: stripe.StripeClient, params: Any) -> None:
    session = await client.v1.checkout.sessions.create_async(
        params(
            line_items=[
                {
                    "price_data": {
                        "currency": "jpy",
                        "unit_amount": 5000,
                        "product_data": {"name": "Lesson"},
                    },
                    "quantity": 3,
                }
            ]
        )
    )
    assert session.currency == "jpy"
    assert session.amount_total == 15000
    assert session.url is not None
    async with aiohttp.ClientSession() as http, http.get(session.url) as page:
        html = await page.text()
    assert "¥15,000" in html
    assert "¥15,000.00" not in html


async def test_list_sessions_by_payment_intent_and_pages(
    client: stripe.StripeClient, control: EmulatorControl, params: Any
) -> None:
    ids = [(await client.v1.checkout.sessions.create_async(params())).id for _ in range(5)]
    paid = await control.complete_session(ids[2], "paid")
    intent_id = paid["payment_intent"]["id"]

    found = await client.v1.checkout.sessions.list_async({"payment_intent": intent_id})
    assert [s.id for s in found.data] == [ids[2]]

    first = await client.v1.checkout.sessions.list_async({"limit": 2})
    assert [s.id for s in first.data] == [ids[4], ids[3]]
    assert first.has_more is True
    rest = await client.v1.checkout.sessions.list_async(
        {"limit": 10, "starting_after": first.data[-1].id}
    )
    assert [s.id for s in rest.data] == [ids[2], ids[1], ids[0]]
    assert rest.has_more is False
    everything = [s.id async for s in first.auto_paging_iter()]
    assert everything == list(reversed(ids))


async def test_sync_client_in_a_thread(emulator: str, params: Any) -> None:
    import asyncio

    http = stripe.RequestsClient()
    client = stripe.StripeClient(
        "sk_test_sync", base_addresses={"api": emulator}, http_client=http, max_network_retries=2
    )

    def create_and_read() -> tuple[str, str]:
        session = client.v1.checkout.sessions.create(params())
        again = client.v1.checkout.sessions.retrieve(session.id)
        return session.id, again.id

    try:
        created, retrieved = await asyncio.to_thread(create_and_read)
    finally:
        http.close()
    assert created == retrieved
    assert created.startswith("cs_test_")


async def test_events_cover_the_whole_flow(
    client: stripe.StripeClient, receiver: WebhookReceiver, control: EmulatorControl, params: Any
) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    paid = await control.complete_session(session.id, "paid")
    await client.v1.refunds.create_async({"charge": paid["charge"]["id"], "amount": 100})
    dispute = await control.dispute(paid["charge"]["id"], reason="fraudulent")
    assert dispute["id"].startswith("dp_")
    created = await receiver.wait_for_event("charge.dispute.created")
    assert created["data"]["object"]["charge"] == paid["charge"]["id"]
    retrieved = await client.v1.disputes.retrieve_async(dispute["id"])
    assert retrieved.status == "needs_response"
    listed = await client.v1.disputes.list_async({"charge": paid["charge"]["id"]})
    assert [d.id for d in listed.data] == [dispute["id"]]
    assert (await client.v1.disputes.list_async({"charge": "ch_other"})).data == []
    with pytest.raises(
        stripe.InvalidRequestError
    ) as caught:  # a disputed charge cannot be refunded
        await client.v1.refunds.create_async({"charge": paid["charge"]["id"]})
    assert caught.value.code == "charge_disputed"

    await wait_until(
        lambda: (
            {
                "payment_intent.created",
                "charge.succeeded",
                "payment_intent.succeeded",
                "checkout.session.completed",
                "charge.refunded",
                "refund.created",
                "charge.dispute.created",
            }
            <= {e["type"] for e in receiver.events}
        ),
        what="every event of the flow",
    )
