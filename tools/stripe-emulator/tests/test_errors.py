"""Refusals use Stripe's error body and status codes; the stripe library raises the right class."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest
import stripe


async def test_missing_api_key_is_401_with_stripe_error_body(emulator: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{emulator}/v1/events") as response:
        assert response.status == 401
        body = await response.json()
    assert body["error"]["type"] == "invalid_request_error"
    assert "You did not provide an API key" in body["error"]["message"]


@pytest.mark.parametrize("key", ["sk_live_abcdefghijklmnop", "not-a-key", "pk_test_abcdefghijkl"])
async def test_invalid_keys_raise_authentication_error(emulator: str, key: str) -> None:
    http = stripe.RequestsClient(async_fallback_client=stripe.AIOHTTPClient())
    client = stripe.StripeClient(key, base_addresses={"api": emulator}, http_client=http)
    try:
        with pytest.raises(stripe.AuthenticationError) as caught:
            await client.v1.events.list_async()
    finally:
        await http.close_async()
    assert caught.value.http_status == 401
    assert key not in str(caught.value), "the key is masked"


async def test_unknown_session_is_404_resource_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.checkout.sessions.retrieve_async("cs_test_nope")
    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"
    assert "No such checkout.session: 'cs_test_nope'" in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "param", "code"),
    [
        ({"line_items": None}, "line_items", "parameter_missing"),
        ({"mode": None}, "mode", "parameter_missing"),
        ({"bogus": "1"}, "bogus", "parameter_unknown"),
        ({"expires_at": int(time.time()) + 60}, "expires_at", "parameter_invalid"),
        ({"expires_at": int(time.time()) + 25 * 3600}, "expires_at", "parameter_invalid"),
        ({"customer_email": "not-an-email"}, "customer_email", "email_invalid"),
        ({"success_url": "nowhere"}, "success_url", "url_invalid"),
        (
            {
                "line_items": [
                    {
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": 10,
                            "product_data": {"name": "Too cheap"},
                        },
                        "quantity": 1,
                    }
                ]
            },
            "line_items",
            "amount_too_small",
        ),
        (
            {
                "line_items": [
                    {
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": "ten",
                            "product_data": {"name": "X"},
                        },
                        "quantity": 1,
                    }
                ]
            },
            "line_items[0][price_data][unit_amount]",
            "parameter_invalid_integer",
        ),
    ],
)
async def test_bad_session_parameters_raise_invalid_request_error(
    client: stripe.StripeClient, params: Any, overrides: dict[str, Any], param: str, code: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.checkout.sessions.create_async(params(**overrides))
    assert caught.value.http_status == 400
    assert caught.value.param == param
    assert caught.value.code == code


async def test_error_body_shape_on_the_wire(emulator: str) -> None:
    headers = {"Authorization": "Bearer sk_test_wire"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{emulator}/v1/refunds", data={"charge": "ch_missing"}, headers=headers) as r,
    ):
        assert r.status == 404
        assert r.headers["Request-Id"].startswith("req_")
        body = await r.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert {"type", "code", "message", "param", "doc_url", "request_log_url"} <= set(error)
    assert error["param"] == "charge"


async def test_unrecognised_url_and_json_body(emulator: str) -> None:
    headers = {"Authorization": "Bearer sk_test_wire"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{emulator}/v1/nothing_here", headers=headers) as r:
            assert r.status == 404
            assert (
                "Unrecognized request URL (GET: /v1/nothing_here)"
                in (await r.json())["error"]["message"]
            )
        async with http.post(
            f"{emulator}/v1/checkout/sessions", json={"mode": "payment"}, headers=headers
        ) as r:
            assert r.status == 400
            assert (await r.json())["error"]["type"] == "invalid_request_error"


async def test_bad_expand_is_refused(client: stripe.StripeClient, params: Any) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.checkout.sessions.retrieve_async(session.id, {"expand": ["customer_x"]})
    assert caught.value.param == "expand"
