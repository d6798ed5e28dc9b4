"""Recurring billing through the stripe library: subscription checkout, test clocks, installments
with `cancel_at`, failed renewals fixed through the billing portal, cancellation."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import stripe

from stripe_emulator.testing import EmulatorControl, WebhookReceiver, wait_until


def at(year: int, month: int, day: int, hour: int = 10) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp())


def of_object(object_id: str) -> Any:
    return lambda event: event["data"]["object"]["id"] == object_id


async def _clock_customer(client: stripe.StripeClient, frozen_time: int) -> tuple[str, str]:
    clock = await client.v1.test_helpers.test_clocks.create_async(
        {"frozen_time": frozen_time, "name": "plan"}
    )
    customer = await client.v1.customers.create_async(
        {"email": "student@example.com", "test_clock": clock.id}
    )
    assert customer.test_clock == clock.id
    return clock.id, customer.id


async def _subscribe(
    client: stripe.StripeClient,
    control: EmulatorControl,
    sub_params: Any,
    customer: str,
    outcome: str = "paid",
) -> dict[str, Any]:
    session = await client.v1.checkout.sessions.create_async(sub_params(customer=customer))
    result: dict[str, Any] = await control.complete_session(session.id, outcome)
    assert result["outcome"] == "paid"
    return result


async def _post_form(url: str, form: dict[str, str]) -> aiohttp.ClientResponse:
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=form, allow_redirects=False) as response,
    ):
        await response.read()
        return response


async def _html(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        return await response.text()


async def test_subscription_checkout_on_the_page_starts_a_paid_subscription(
    client: stripe.StripeClient, receiver: WebhookReceiver, sub_params: Any
) -> None:
    session = await client.v1.checkout.sessions.create_async(
        sub_params(customer_email="student@example.com")
    )
    assert session.mode == "subscription"
    assert session.amount_total == 6000
    assert session.url is not None
    html = await _html(session.url)
    assert "€60.00 / month" in html
    assert html.count('type="radio"') == 3, "cards only: success, decline, 3-D Secure"
    assert "SEPA" not in html

    declined = await _post_form(session.url, {"method": "card_decline"})
    assert declined.status == 402
    assert (await client.v1.checkout.sessions.retrieve_async(session.id)).status == "open"
    assert (await client.v1.subscriptions.list_async()).data == [], "a decline makes nothing"

    paid = await _post_form(session.url, {"method": "card_success"})
    assert paid.status == 303
    assert paid.headers["Location"].endswith(f"session_id={session.id}")

    completed = await receiver.wait_for_event("checkout.session.completed")
    done = completed["data"]["object"]
    assert done["payment_status"] == "paid"
    assert done["client_reference_id"] == "contract-123"
    assert done["payment_intent"] is None
    assert done["customer"].startswith("cus_")
    assert done["subscription"].startswith("sub_")
    assert done["invoice"].startswith("in_")

    subscription = await client.v1.subscriptions.retrieve_async(done["subscription"])
    assert subscription.status == "active"
    assert subscription.customer == done["customer"]
    assert subscription.metadata.to_dict() == {"contract_id": "contract-123"}
    assert subscription.latest_invoice == done["invoice"]
    assert subscription.cancel_at is None
    assert subscription.cancel_at_period_end is False
    item = subscription["items"].data[0]
    assert item.price.recurring is not None
    assert (item.price.recurring.interval, item.price.unit_amount) == ("month", 6000)
    assert item.current_period_start == subscription.start_date
    assert item.current_period_end > item.current_period_start + 27 * 86_400

    invoice = await client.v1.invoices.retrieve_async(done["invoice"])
    assert invoice.status == "paid"
    assert invoice.billing_reason == "subscription_create"
    assert (invoice.amount_due, invoice.amount_paid, invoice.amount_remaining) == (6000, 6000, 0)
    assert invoice.currency == "eur"
    assert invoice.customer == done["customer"]
    assert invoice.customer_email == "student@example.com"
    assert invoice.parent is not None
    assert invoice.parent.subscription_details is not None
    assert invoice.parent.subscription_details.subscription == subscription.id
    assert invoice.parent.subscription_details.metadata.to_dict() == {"contract_id": "contract-123"}
    line = invoice.lines.data[0]
    assert (line.period.start, line.period.end) == (
        item.current_period_start,
        item.current_period_end,
    )
    assert line.amount == 6000
    assert line.description == "1 \N{MULTIPLICATION SIGN} Monthly coaching (at €60.00 / month)"

    payments = await client.v1.invoice_payments.list_async({"invoice": invoice.id})
    assert [p.status for p in payments.data] == ["paid"]
    intent_id = payments.data[0].payment.payment_intent
    assert isinstance(intent_id, str)
    intent = await client.v1.payment_intents.retrieve_async(
        intent_id, {"expand": ["latest_charge"]}
    )
    assert intent.status == "succeeded"
    assert intent.amount_received == 6000
    assert intent.customer == done["customer"]
    assert isinstance(intent.latest_charge, stripe.Charge)
    assert intent.latest_charge.paid is True

    with_payments = await client.v1.invoices.retrieve_async(
        invoice.id, {"expand": ["payments.data.payment.payment_intent"]}
    )
    assert with_payments.payments is not None
    assert with_payments.payments.data[0].payment.payment_intent.id == intent.id

    types = [e["type"] for e in receiver.events]
    assert types.index("customer.created") < types.index("customer.subscription.created")
    assert types.index("invoice.paid") < types.index("checkout.session.completed")
    created = await receiver.wait_for_event("customer.subscription.created")
    assert created["data"]["object"]["status"] == "incomplete", "as Stripe: active once paid"
    activated = await receiver.wait_for_event("customer.subscription.updated")
    assert activated["data"]["object"]["status"] == "active"
    assert activated["data"]["previous_attributes"] == {"status": "incomplete"}
    invoice_paid = await receiver.wait_for_event("invoice.paid")
    assert invoice_paid["data"]["object"]["id"] == invoice.id
    assert invoice_paid["data"]["object"]["amount_paid"] == 6000
    await receiver.wait_for_event("invoice.payment_succeeded")
    await receiver.wait_for_event("invoice_payment.paid")
    listed = await client.v1.events.list_async({"type": "invoice.paid"})
    assert [e.id for e in listed.data] == [invoice_paid["id"]], "reconciliation can read it"


async def test_three_installments_with_cancel_at_across_clock_advances(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    sub_params: Any,
) -> None:
    """€100.00 in 3: €33.33 a month, the remaining cent as a one-time line on the first."""
    start = at(2027, 1, 31)
    clock, customer = await _clock_customer(client, start)
    monthly = {
        "price_data": {
            "currency": "eur",
            "unit_amount": 3333,
            "product_data": {"name": "Coaching package, 1 of 3 payments"},
            "recurring": {"interval": "month"},
        },
        "quantity": 1,
    }
    remainder = {
        "price_data": {
            "currency": "eur",
            "unit_amount": 1,
            "product_data": {"name": "Rounding"},
        },
        "quantity": 1,
    }
    session = await client.v1.checkout.sessions.create_async(
        sub_params(customer=customer, line_items=[monthly, remainder])
    )
    assert session.amount_total == 3334
    assert session.url is not None
    html = await _html(session.url)
    assert "€33.33 / month" in html
    assert "1 \N{MULTIPLICATION SIGN} €0.01<" in html, "a one-time line has no interval"
    subscribed = await control.complete_session(session.id)
    assert subscribed["invoice"]["amount_paid"] == 3334
    first_lines = subscribed["invoice"]["lines"]["data"]
    assert [line["parent"]["type"] for line in first_lines] == [
        "subscription_item_details",
        "invoice_item_details",
    ]
    assert len(subscribed["subscription"]["items"]["data"]) == 1, "the remainder is not renewed"
    subscription_id = subscribed["subscription"]["id"]
    item = subscribed["subscription"]["items"]["data"][0]
    # Monthly from the 31st: the end of shorter months, as Stripe bills.
    ends = [at(2027, 2, 28), at(2027, 3, 31), at(2027, 4, 30)]
    assert (item["current_period_start"], item["current_period_end"]) == (start, ends[0])

    updated = await client.v1.subscriptions.update_async(subscription_id, {"cancel_at": ends[2]})
    assert updated.cancel_at == ends[2]
    assert updated.cancel_at_period_end is False
    change = await receiver.wait_for_event(
        "customer.subscription.updated",
        lambda e: "cancel_at" in e["data"].get("previous_attributes", {}),
    )
    assert change["data"]["previous_attributes"]["cancel_at"] is None

    for number, when in enumerate(ends[:2], start=2):
        advanced = await client.v1.test_helpers.test_clocks.advance_async(
            clock, {"frozen_time": when}
        )
        assert advanced.status == "ready"
        assert advanced.frozen_time == when
        invoices = await client.v1.invoices.list_async({"subscription": subscription_id})
        assert len(invoices.data) == number
        assert invoices.data[0].status == "paid"
        assert invoices.data[0].billing_reason == "subscription_cycle"
        assert invoices.data[0].lines.data[0].period.start == when
    assert (await client.v1.subscriptions.retrieve_async(subscription_id)).status == "active"

    await client.v1.test_helpers.test_clocks.advance_async(clock, {"frozen_time": ends[2]})
    deleted = await receiver.wait_for_event("customer.subscription.deleted")
    assert deleted["data"]["object"]["id"] == subscription_id
    assert deleted["data"]["object"]["status"] == "canceled"
    assert deleted["data"]["object"]["ended_at"] == ends[2]
    assert deleted["data"]["object"]["cancellation_details"]["reason"] == ("cancellation_requested")

    await client.v1.test_helpers.test_clocks.advance_async(clock, {"frozen_time": at(2027, 7, 1)})
    invoices = await client.v1.invoices.list_async({"subscription": subscription_id})
    assert [i.amount_paid for i in invoices.data] == [3333, 3333, 3334], "three, then no more"
    assert sum(i.amount_paid for i in invoices.data) == 10000
    assert [i.billing_reason for i in reversed(invoices.data)] == [
        "subscription_create",
        "subscription_cycle",
        "subscription_cycle",
    ]
    assert [(i.lines.data[0].period.start, i.lines.data[0].period.end) for i in invoices.data] == [
        (ends[1], ends[2]),
        (ends[0], ends[1]),
        (start, ends[0]),
    ]
    paid = [
        e
        for e in receiver.events_of_type("invoice.paid")
        if e["data"]["object"]["subscription"] == subscription_id
    ]
    assert len({e["data"]["object"]["id"] for e in paid}) == 3
    assert (await client.v1.subscriptions.list_async({"customer": customer})).data == []
    ended = await client.v1.subscriptions.list_async({"customer": customer, "status": "canceled"})
    assert [s.id for s in ended.data] == [subscription_id]


async def test_failed_renewal_is_fixed_through_the_portal_and_paid(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    sub_params: Any,
) -> None:
    clock, customer = await _clock_customer(client, at(2027, 1, 7))
    subscription_id = (await _subscribe(client, control, sub_params, customer))["subscription"][
        "id"
    ]
    await control.change_card(customer, "card_decline_after_attach")

    await client.v1.test_helpers.test_clocks.advance_async(clock, {"frozen_time": at(2027, 2, 7)})
    failed = await receiver.wait_for_event("invoice.payment_failed")
    invoice_id = failed["data"]["object"]["id"]
    assert failed["data"]["object"]["status"] == "open"
    assert failed["data"]["object"]["attempt_count"] == 1
    assert failed["data"]["object"]["amount_remaining"] == 6000
    past_due = await receiver.wait_for_event(
        "customer.subscription.updated", lambda e: e["data"]["object"]["status"] == "past_due"
    )
    assert past_due["data"]["previous_attributes"] == {"status": "active"}
    await receiver.wait_for_event("charge.failed")
    subscription = await client.v1.subscriptions.retrieve_async(subscription_id)
    assert subscription.status == "past_due"
    assert subscription.latest_invoice == invoice_id
    assert (await client.v1.customers.retrieve_async(customer)).delinquent is True

    with pytest.raises(stripe.CardError) as declined:  # the same card is declined again
        await client.v1.invoices.pay_async(invoice_id)
    assert declined.value.code == "card_declined"
    assert declined.value.http_status == 402
    assert (await client.v1.invoices.retrieve_async(invoice_id)).attempt_count == 2

    portal = await client.v1.billing_portal.sessions.create_async(
        {"customer": customer, "return_url": "https://app.example/billing"}
    )
    assert portal.url.startswith("http")
    assert portal.customer == customer
    html = await _html(portal.url)
    assert "Visa •••• 0341" in html
    assert "payment due" in html
    assert '<a href="https://app.example/billing">' in html

    refused = await _post_form(f"{portal.url}/card", {"card": "card_decline"})
    assert refused.status == 402, "a card the bank refuses to save changes nothing"
    assert "Visa •••• 0341" in await _html(portal.url)

    saved = await _post_form(f"{portal.url}/card", {"card": "card_success"})
    assert saved.status == 303
    html = await _html(portal.url + "?done=card")
    assert "Visa •••• 4242" in html
    assert "Your card was updated" in html
    await receiver.wait_for_event(
        "customer.subscription.updated",
        lambda e: "default_payment_method" in e["data"].get("previous_attributes", {}),
    )
    await receiver.wait_for_event("customer.updated")

    paid = await client.v1.invoices.pay_async(invoice_id)
    assert paid.status == "paid"
    assert paid.amount_paid == 6000
    assert paid.attempt_count == 3
    await receiver.wait_for_event("invoice.paid", of_object(invoice_id))
    active = await receiver.wait_for_event(
        "customer.subscription.updated",
        lambda e: e["data"].get("previous_attributes") == {"status": "past_due"},
    )
    assert active["data"]["object"]["status"] == "active"
    assert (await client.v1.customers.retrieve_async(customer)).delinquent is False
    with pytest.raises(stripe.InvalidRequestError):  # a paid invoice is not paid twice
        await client.v1.invoices.pay_async(invoice_id)
    assert "paid" in await _html(portal.url)


async def test_renewal_needing_authentication_asks_for_action(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    sub_params: Any,
) -> None:
    clock, customer = await _clock_customer(client, at(2027, 3, 1))
    subscribed = await _subscribe(client, control, sub_params, customer, outcome="authenticated")
    assert subscribed["invoice"]["status"] == "paid", "authenticated on the checkout page"

    await client.v1.test_helpers.test_clocks.advance_async(clock, {"frozen_time": at(2027, 4, 1)})
    action = await receiver.wait_for_event("invoice.payment_action_required")
    invoice_id = action["data"]["object"]["id"]
    intent_id = (
        (await client.v1.invoice_payments.list_async({"invoice": invoice_id}))
        .data[0]
        .payment.payment_intent
    )
    assert isinstance(intent_id, str)
    intent = await client.v1.payment_intents.retrieve_async(intent_id)
    assert intent.status == "requires_action"
    assert intent.next_action is not None
    await receiver.wait_for_event("payment_intent.requires_action")
    assert receiver.events_of_type("invoice.payment_failed") == []
    subscription = await client.v1.subscriptions.retrieve_async(subscribed["subscription"]["id"])
    assert subscription.status == "past_due"

    with pytest.raises(stripe.CardError) as caught:  # the server cannot authenticate
        await client.v1.invoices.pay_async(invoice_id)
    assert caught.value.code == "invoice_payment_intent_requires_action"

    await control.change_card(customer, "card_success")
    assert (await client.v1.invoices.pay_async(invoice_id)).status == "paid"
    assert (await client.v1.payment_intents.retrieve_async(intent_id)).status == "succeeded"


async def test_cancel_at_period_end_on_the_emulator_clock(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    sub_params: Any,
) -> None:
    leaving = await client.v1.checkout.sessions.create_async(sub_params())
    staying = await client.v1.checkout.sessions.create_async(sub_params())
    leaving_id = (await control.complete_session(leaving.id))["subscription"]["id"]
    staying_sub = (await control.complete_session(staying.id))["subscription"]
    staying_id = staying_sub["id"]

    cancelled = await client.v1.subscriptions.update_async(
        leaving_id, {"cancel_at_period_end": True, "metadata": {"reason": "moving"}}
    )
    period_end = cancelled["items"].data[0].current_period_end
    assert cancelled.cancel_at_period_end is True
    assert cancelled.cancel_at == period_end
    assert cancelled.canceled_at is not None
    assert cancelled.status == "active"
    assert cancelled.metadata.to_dict() == {"contract_id": "contract-123", "reason": "moving"}
    event = await receiver.wait_for_event(
        "customer.subscription.updated",
        lambda e: "cancel_at_period_end" in e["data"].get("previous_attributes", {}),
    )
    assert event["data"]["previous_attributes"]["cancel_at_period_end"] is False
    assert event["request"]["id"] is not None

    now = (await control.advance_clock(0))["now"]
    advanced = await control.advance_clock(period_end - now + 60)
    assert advanced["renewed_periods"] == 1, "only the subscription that stays renews"

    deleted = await receiver.wait_for_event("customer.subscription.deleted")
    assert deleted["data"]["object"]["id"] == leaving_id
    assert deleted["data"]["object"]["ended_at"] == period_end
    assert len((await client.v1.invoices.list_async({"subscription": leaving_id})).data) == 1
    kept = await client.v1.invoices.list_async({"subscription": staying_id})
    assert [i.status for i in kept.data] == ["paid", "paid"]
    staying_now = await client.v1.subscriptions.retrieve_async(staying_id)
    first_end = staying_sub["items"]["data"][0]["current_period_end"]
    assert staying_now["items"].data[0].current_period_start == first_end


async def test_cancel_at_period_end_can_be_undone_and_delete_ends_at_once(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    sub_params: Any,
) -> None:
    session = await client.v1.checkout.sessions.create_async(sub_params())
    subscription_id = (await control.complete_session(session.id))["subscription"]["id"]
    await client.v1.subscriptions.update_async(subscription_id, {"cancel_at_period_end": True})
    resumed = await client.v1.subscriptions.update_async(
        subscription_id, {"cancel_at_period_end": False}
    )
    assert (resumed.cancel_at, resumed.cancel_at_period_end, resumed.canceled_at) == (
        None,
        False,
        None,
    )

    ended = await client.v1.subscriptions.cancel_async(
        subscription_id, {"cancellation_details": {"comment": "done"}}
    )
    assert ended.status == "canceled"
    assert ended.ended_at is not None
    assert ended.cancellation_details is not None
    assert ended.cancellation_details.comment == "done"
    await receiver.wait_for_event("customer.subscription.deleted", of_object(subscription_id))

    with pytest.raises(stripe.InvalidRequestError):  # a canceled subscription stays canceled
        await client.v1.subscriptions.cancel_async(subscription_id)
    with pytest.raises(stripe.InvalidRequestError):  # nor can it be set to end later
        await client.v1.subscriptions.update_async(subscription_id, {"cancel_at_period_end": True})
    again = await client.v1.subscriptions.retrieve_async(subscription_id)
    assert again.cancel_at_period_end is False
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.subscriptions.retrieve_async("sub_unknown")
    assert missing.value.code == "resource_missing"


async def test_refund_and_dispute_of_an_invoice_charge(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    sub_params: Any,
) -> None:
    session = await client.v1.checkout.sessions.create_async(sub_params())
    result = await control.complete_session(session.id)
    charge_id = result["charge"]["id"]
    intent_id = result["payment_intent"]["id"]
    found = await client.v1.invoice_payments.list_async(
        {"payment": {"type": "payment_intent", "payment_intent": intent_id}}
    )
    assert [p.invoice for p in found.data] == [result["invoice"]["id"]], "charge to invoice"

    refund = await client.v1.refunds.create_async({"payment_intent": intent_id, "amount": 2000})
    assert refund.charge == charge_id
    refunded = await receiver.wait_for_event("charge.refunded")
    assert refunded["data"]["object"]["amount_refunded"] == 2000
    assert refunded["data"]["object"]["customer"] == result["session"]["customer"]

    dispute = await control.dispute(charge_id)
    assert dispute["amount"] == 4000
    await receiver.wait_for_event("charge.dispute.created")


async def test_invoice_payment_with_an_idempotency_key_happens_once(
    client: stripe.StripeClient, control: EmulatorControl, sub_params: Any
) -> None:
    clock, customer = await _clock_customer(client, at(2027, 5, 2))
    await _subscribe(client, control, sub_params, customer)
    await control.change_card(customer, "card_decline_after_attach")
    await client.v1.test_helpers.test_clocks.advance_async(clock, {"frozen_time": at(2027, 6, 2)})
    invoice = (await client.v1.invoices.list_async({"customer": customer, "status": "open"})).data[
        0
    ]
    assert invoice.attempt_count == 1

    for _ in range(2):
        with pytest.raises(stripe.CardError):  # the declined attempt is replayed, not retried
            await client.v1.invoices.pay_async(invoice.id, options={"idempotency_key": "pay-1"})
    assert (await client.v1.invoices.retrieve_async(invoice.id)).attempt_count == 2

    await control.change_card(customer, "card_success")
    for _ in range(2):
        paid = await client.v1.invoices.pay_async(invoice.id, options={"idempotency_key": "pay-2"})
        assert paid.status == "paid"
    events = await client.v1.events.list_async({"type": "invoice.paid", "limit": 100})
    assert [e.data.object["id"] for e in events.data].count(invoice.id) == 1
    assert (await client.v1.invoices.retrieve_async(invoice.id)).attempt_count == 3


async def test_test_clock_lifecycle(client: stripe.StripeClient, receiver: WebhookReceiver) -> None:
    clock = await client.v1.test_helpers.test_clocks.create_async({"frozen_time": at(2027, 1, 1)})
    assert clock.status == "ready"
    assert clock.id.startswith("clock_")
    with pytest.raises(stripe.InvalidRequestError) as backwards:  # time only moves forward
        await client.v1.test_helpers.test_clocks.advance_async(
            clock.id, {"frozen_time": at(2026, 12, 1)}
        )
    assert backwards.value.param == "frozen_time"
    assert (await client.v1.test_helpers.test_clocks.retrieve_async(clock.id)).frozen_time == at(
        2027, 1, 1
    )
    await client.v1.test_helpers.test_clocks.advance_async(
        clock.id, {"frozen_time": at(2027, 1, 2)}
    )
    await receiver.wait_for_event("test_helpers.test_clock.advancing")
    await receiver.wait_for_event("test_helpers.test_clock.ready")
    customer = await client.v1.customers.create_async({"test_clock": clock.id})
    assert customer.created == at(2027, 1, 2)
    deleted = await client.v1.test_helpers.test_clocks.delete_async(clock.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError):  # its customers went with it
        await client.v1.customers.retrieve_async(customer.id)


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"mode": "payment", "subscription_data": None}, "line_items[0][price_data][recurring]"),
        (
            {
                "line_items": [
                    {
                        "price_data": {
                            "currency": "eur",
                            "unit_amount": 6000,
                            "product_data": {"name": "Once"},
                        },
                        "quantity": 1,
                    }
                ]
            },
            "line_items",
        ),
        (
            {
                "line_items": [
                    {
                        "price_data": {
                            "currency": "eur",
                            "unit_amount": 6000,
                            "product_data": {"name": "Often"},
                            "recurring": {"interval": "month", "interval_count": 13},
                        },
                        "quantity": 1,
                    }
                ]
            },
            "line_items[0][price_data][recurring][interval_count]",
        ),
        ({"payment_intent_data": {"metadata": {"a": "b"}}}, "payment_intent_data"),
        ({"customer": "cus_unknown"}, "customer"),
    ],
)
async def test_bad_subscription_sessions_are_refused(
    client: stripe.StripeClient, sub_params: Any, overrides: dict[str, Any], param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:  # Stripe's 4xx, nothing made
        await client.v1.checkout.sessions.create_async(sub_params(**overrides))
    assert caught.value.param == param
    assert (await client.v1.checkout.sessions.list_async()).data == []


async def test_mixed_intervals_and_past_cancel_at_are_refused(
    client: stripe.StripeClient, control: EmulatorControl, sub_params: Any
) -> None:
    weekly = {
        "price_data": {
            "currency": "eur",
            "unit_amount": 1000,
            "product_data": {"name": "Weekly"},
            "recurring": {"interval": "week"},
        },
        "quantity": 1,
    }
    with pytest.raises(stripe.InvalidRequestError):  # one interval per subscription
        await client.v1.checkout.sessions.create_async(
            sub_params(line_items=[*sub_params()["line_items"], weekly])
        )
    session = await client.v1.checkout.sessions.create_async(sub_params(line_items=[weekly]))
    subscription = (await control.complete_session(session.id))["subscription"]
    assert subscription["items"]["data"][0]["current_period_end"] == (
        subscription["start_date"] + 7 * 86_400
    )
    with pytest.raises(stripe.InvalidRequestError) as caught:  # cancel_at must be ahead
        await client.v1.subscriptions.update_async(
            subscription["id"], {"cancel_at": subscription["start_date"] - 1}
        )
    assert caught.value.param == "cancel_at"
    unchanged = await client.v1.subscriptions.retrieve_async(subscription["id"])
    assert unchanged.cancel_at is None


async def test_portal_page_cancels_at_period_end(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    sub_params: Any,
) -> None:
    session = await client.v1.checkout.sessions.create_async(sub_params())
    result = await control.complete_session(session.id, email="student@example.com")
    customer = result["session"]["customer"]
    portal = await client.v1.billing_portal.sessions.create_async({"customer": customer})
    html = await _html(portal.url)
    assert '<html lang="en">' in html
    assert "Monthly coaching" in html
    assert "€60.00 / month" in html
    assert "Renews on" in html
    assert "student@example.com" in html
    action = re.search(r'<form method="post" action="([^"]+/cancel)"', html)
    assert action is not None
    response = await _post_form(
        str(aiohttp.client.URL(portal.url).join(aiohttp.client.URL(action.group(1)))), {}
    )
    assert response.status == 303
    await receiver.wait_for_event(
        "customer.subscription.updated",
        lambda e: e["data"]["object"]["cancel_at_period_end"] is True,
    )
    html = await _html(portal.url + "?done=cancel")
    assert "Ends on" in html
    assert "Cancel at period end" not in html

    with pytest.raises(stripe.InvalidRequestError):  # a portal needs a known customer
        await client.v1.billing_portal.sessions.create_async({"customer": "cus_nobody"})
    await wait_until(lambda: receiver.events_of_type("billing_portal.session.created"))


async def test_billing_events_go_through_chaos_and_endpoint_filters(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    sub_params: Any,
) -> None:
    endpoint = await client.v1.webhook_endpoints.create_async(
        {"url": receiver.url, "enabled_events": ["invoice.paid", "customer.subscription.*"]}
    )
    await control.set_chaos(duplicate_probability=1.0, max_delay=0.05, seed=7)
    session = await client.v1.checkout.sessions.create_async(sub_params())
    await control.complete_session(session.id)

    await wait_until(
        lambda: len(receiver.events_of_type("invoice.paid")) == 2,
        what="invoice.paid, signed and duplicated by the chaos mode",
    )
    first, second = receiver.events_of_type("invoice.paid")
    assert first["id"] == second["id"]

    wanted = {"invoice.paid", "customer.subscription.created", "customer.subscription.updated"}

    async def endpoint_got_exactly_its_events() -> bool:
        attempts = await control.deliveries(url=receiver.url)
        return {a["event_type"] for a in attempts if a["endpoint_id"] == endpoint.id} == wanted

    await wait_until(endpoint_got_exactly_its_events, what="the endpoint's filtered events")
