"""Idempotency-Key: same key and parameters replay; other parameters are refused."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import stripe

from stripe_emulator.testing import EmulatorControl


async def test_same_key_same_parameters_replays_the_first_response(
    client: stripe.StripeClient, params: Any
) -> None:
    body = params()
    first = await client.v1.checkout.sessions.create_async(
        body, {"idempotency_key": "contract-123-attempt-1"}
    )
    again = await client.v1.checkout.sessions.create_async(
        body, {"idempotency_key": "contract-123-attempt-1"}
    )
    assert again.id == first.id
    listed = await client.v1.checkout.sessions.list_async()
    assert [s.id for s in listed.data] == [first.id], "the replay created nothing"


async def test_same_key_other_parameters_is_an_idempotency_error(
    client: stripe.StripeClient, params: Any
) -> None:
    await client.v1.checkout.sessions.create_async(params(), {"idempotency_key": "k-conflict"})
    with pytest.raises(stripe.IdempotencyError) as caught:
        await client.v1.checkout.sessions.create_async(
            params(client_reference_id="another-contract"), {"idempotency_key": "k-conflict"}
        )
    assert caught.value.http_status == 400
    assert caught.value.error is not None
    assert caught.value.error.type == "idempotency_error"


async def test_replayed_refund_refunds_once(
    client: stripe.StripeClient, control: EmulatorControl, params: Any
) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    charge_id = (await control.complete_session(session.id))["charge"]["id"]
    refund_params = {"charge": charge_id, "amount": 1000}
    first = await client.v1.refunds.create_async(refund_params, {"idempotency_key": "refund-1"})
    again = await client.v1.refunds.create_async(refund_params, {"idempotency_key": "refund-1"})
    assert again.id == first.id
    charge = await client.v1.charges.retrieve_async(charge_id)
    assert charge.amount_refunded == 1000


async def test_replay_is_marked_and_failed_validation_is_not_saved(
    emulator: str, params: Any
) -> None:
    headers = {"Authorization": "Bearer sk_test_raw", "Idempotency-Key": "raw-key"}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{emulator}/v1/checkout/sessions", data={"mode": "payment"}, headers=headers
        ) as refused:
            assert refused.status == 400
        # A refusal during validation is not saved, so the key can be used for a good request.
        body = {
            "mode": "payment",
            "line_items[0][price_data][currency]": "usd",
            "line_items[0][price_data][unit_amount]": "2000",
            "line_items[0][price_data][product_data][name]": "Session",
            "line_items[0][quantity]": "1",
        }
        async with http.post(
            f"{emulator}/v1/checkout/sessions", data=body, headers=headers
        ) as created:
            assert created.status == 200
            assert "Idempotent-Replayed" not in created.headers
            first = await created.json()
        async with http.post(
            f"{emulator}/v1/checkout/sessions", data=body, headers=headers
        ) as replayed:
            assert replayed.headers["Idempotent-Replayed"] == "true"
            assert (await replayed.json())["id"] == first["id"]
