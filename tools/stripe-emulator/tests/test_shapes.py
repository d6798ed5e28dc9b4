"""Every object the emulator returns has the field set (and JSON types) of Stripe's fixture."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import aiohttp

from stripe_emulator.testing import EmulatorControl

FIXTURES: dict[str, Any] = json.loads(
    resources.files("stripe_emulator").joinpath("fixtures3.json").read_text("utf-8")
)["resources"]

# Free-form maps whose keys depend on the object, not on the resource's schema; and
# hashes whose fixture shows only `type` (an invoice payment's `payment` has `payment_intent`,
# a line's `pricing` has `price_details`, an error has `code`, `message`... as the API returns).
FREE_FORM = {
    "metadata",
    "payment_method_options",
    "previous_attributes",
    "object",
    "payment",
    "pricing",
    "last_payment_error",
}


def field_differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Missing/extra keys and type mismatches between two JSON values, recursively."""
    problems: list[str] = []
    if isinstance(ours, dict) and isinstance(theirs, dict):
        if not theirs:
            return problems
        for key in sorted(set(theirs) - set(ours)):
            problems.append(f"{path}.{key} missing")
        for key in sorted(set(ours) - set(theirs)):
            problems.append(f"{path}.{key} extra")
        for key in set(ours) & set(theirs):
            if key in FREE_FORM or path.endswith(".data"):
                continue
            problems += field_differences(ours[key], theirs[key], f"{path}.{key}")
        return problems
    if ours is None or theirs is None:
        return problems  # nullable fields: Stripe sends null where there is nothing
    if isinstance(theirs, bool) or isinstance(ours, bool):
        if type(ours) is not type(theirs):
            problems.append(f"{path}: {type(ours).__name__} vs {type(theirs).__name__}")
        return problems
    if type(ours) is not type(theirs):
        problems.append(f"{path}: {type(ours).__name__} vs {type(theirs).__name__}")
    return problems


async def _get(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url, headers={"Authorization": "Bearer sk_test_shapes"}) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def _post(http: aiohttp.ClientSession, url: str, data: dict[str, str]) -> Any:
    headers = {"Authorization": "Bearer sk_test_shapes"}
    async with http.post(url, data=data, headers=headers) as response:
        assert response.status == 200, await response.text()
        return await response.json()


def test_comparison_notices_a_missing_field() -> None:
    charge = json.loads(json.dumps(FIXTURES["charge"]))
    del charge["refunds"]
    charge["amount"] = "100"
    assert sorted(field_differences(charge, FIXTURES["charge"])) == [
        ".amount: str vs int",
        ".refunds missing",
    ]


async def test_objects_match_stripe_fixtures(emulator: str, control: EmulatorControl) -> None:
    api = f"{emulator}/v1"
    async with aiohttp.ClientSession() as http:
        session = await _post(
            http,
            f"{api}/checkout/sessions",
            {
                "mode": "payment",
                "line_items[0][price_data][currency]": "usd",
                "line_items[0][price_data][unit_amount]": "2500",
                "line_items[0][price_data][product_data][name]": "Session",
                "line_items[0][quantity]": "2",
                "success_url": "https://example.com/ok?session_id={CHECKOUT_SESSION_ID}",
            },
        )
        paid = await control.complete_session(session["id"], "paid")
        charge_id = paid["charge"]["id"]
        refund = await _post(http, f"{api}/refunds", {"charge": charge_id, "amount": "100"})
        dispute = await control.dispute(charge_id)
        endpoint = await _post(
            http,
            f"{api}/webhook_endpoints",
            {"url": "https://example.com/hook", "enabled_events[0]": "*"},
        )
        intent_id = paid["payment_intent"]["id"]
        objects = {
            "checkout.session": await _get(http, f"{api}/checkout/sessions/{session['id']}"),
            "payment_intent": await _get(http, f"{api}/payment_intents/{intent_id}"),
            "charge": await _get(http, f"{api}/charges/{charge_id}"),
            "refund": await _get(http, f"{api}/refunds/{refund['id']}"),
            "dispute": await _get(http, f"{api}/disputes/{dispute['id']}"),
            "webhook_endpoint": await _get(http, f"{api}/webhook_endpoints/{endpoint['id']}"),
            "item": (await _get(http, f"{api}/checkout/sessions/{session['id']}/line_items"))[
                "data"
            ][0],
        }
        events = (await _get(http, f"{api}/events?limit=100"))["data"]
    objects["event"] = events[0]

    for name, obj in objects.items():
        assert obj["object"] == FIXTURES[name]["object"]
        assert field_differences(obj, FIXTURES[name]) == [], name
    assert set(endpoint) == set(FIXTURES["webhook_endpoint"]) | {"secret"}
    for event in events:
        kind = event["data"]["object"]["object"]
        assert field_differences(event["data"]["object"], FIXTURES[kind]) == [], event["type"]
    assert objects["checkout.session"]["id"].startswith("cs_test_")
    assert objects["payment_intent"]["id"].startswith("pi_")
    assert objects["charge"]["id"].startswith("ch_")
    assert objects["refund"]["id"].startswith("re_")
    assert objects["dispute"]["id"].startswith("dp_")
    assert objects["event"]["id"].startswith("evt_")
    assert objects["webhook_endpoint"]["id"].startswith("we_")


async def test_billing_objects_and_events_match_stripe_fixtures(
    emulator: str, control: EmulatorControl
) -> None:
    api = f"{emulator}/v1"
    async with aiohttp.ClientSession() as http:
        clock = await _post(http, f"{api}/test_helpers/test_clocks", {"frozen_time": "1800000000"})
        customer = await _post(
            http, f"{api}/customers", {"email": "s@example.com", "test_clock": clock["id"]}
        )
        session = await _post(
            http,
            f"{api}/checkout/sessions",
            {
                "mode": "subscription",
                "customer": customer["id"],
                "line_items[0][price_data][currency]": "eur",
                "line_items[0][price_data][unit_amount]": "6000",
                "line_items[0][price_data][product_data][name]": "Monthly coaching",
                "line_items[0][price_data][recurring][interval]": "month",
                "line_items[0][quantity]": "1",
                "line_items[1][price_data][currency]": "eur",
                "line_items[1][price_data][unit_amount]": "1",
                "line_items[1][price_data][product_data][name]": "Rounding",
                "line_items[1][quantity]": "1",
                "subscription_data[metadata][contract_id]": "c1",
                "success_url": "https://example.com/ok",
            },
        )
        paid = await control.complete_session(session["id"])
        subscription_id = paid["subscription"]["id"]
        await control.change_card(customer["id"], "card_decline_after_attach")
        await _post(
            http, f"{api}/subscriptions/{subscription_id}", {"cancel_at_period_end": "true"}
        )
        await _post(
            http, f"{api}/subscriptions/{subscription_id}", {"cancel_at_period_end": "false"}
        )
        await _post(
            http,
            f"{api}/test_helpers/test_clocks/{clock['id']}/advance",
            {"frozen_time": str(1800000000 + 31 * 86_400)},
        )
        portal = await _post(http, f"{api}/billing_portal/sessions", {"customer": customer["id"]})
        invoice_id = paid["invoice"]["id"]
        payment = (await _get(http, f"{api}/invoice_payments?invoice={invoice_id}"))["data"][0]
        method_id = paid["subscription"]["default_payment_method"]
        objects = {
            "customer": await _get(http, f"{api}/customers/{customer['id']}"),
            "subscription": await _get(http, f"{api}/subscriptions/{subscription_id}"),
            "invoice": await _get(http, f"{api}/invoices/{invoice_id}"),
            "line_item": (await _get(http, f"{api}/invoices/{invoice_id}/lines"))["data"][0],
            "invoice_payment": payment,
            "payment_method": await _get(http, f"{api}/payment_methods/{method_id}"),
            "test_helpers.test_clock": await _get(
                http, f"{api}/test_helpers/test_clocks/{clock['id']}"
            ),
            "billing_portal.session": portal,
            "checkout.session": await _get(http, f"{api}/checkout/sessions/{session['id']}"),
        }
        objects["subscription_item"] = objects["subscription"]["items"]["data"][0]
        lines = (await _get(http, f"{api}/invoices/{invoice_id}/lines"))["data"]
        events = (await _get(http, f"{api}/events?limit=100"))["data"]

    for name, obj in objects.items():
        assert obj["object"] == FIXTURES[name]["object"]
        assert field_differences(obj, FIXTURES[name]) == [], name
    assert objects["subscription"]["status"] == "past_due"
    assert [line["parent"]["type"] for line in lines] == [
        "subscription_item_details",
        "invoice_item_details",
    ]
    for line in lines:
        assert field_differences(line, FIXTURES["line_item"]) == [], line["parent"]["type"]
    kinds = {event["type"] for event in events}
    assert {
        "customer.created",
        "payment_method.attached",
        "customer.subscription.created",
        "customer.subscription.updated",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice_payment.paid",
        "invoice.payment_failed",
        "test_helpers.test_clock.ready",
        "billing_portal.session.created",
    } <= kinds
    for event in events:
        envelope = {**event, "data": {"object": event["data"]["object"]}}  # + previous_attributes
        assert field_differences(envelope, FIXTURES["event"]) == [], event["type"]
        kind = event["data"]["object"]["object"]
        assert field_differences(event["data"]["object"], FIXTURES[kind]) == [], event["type"]
