"""Idempotency-Key: same key and parameters replay; other parameters are refused."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import stripe

from stripe_emulator.testing import EmulatorControl, WebhookReceiver


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
    refund_params: Any = {"charge": charge_id, "amount": 1000}
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


# Refunds with Idempotency-Key: what a payments service retrying a refund relies on.

REFUND_HEADERS = {"Authorization": "Bearer sk_test_emulator_tests"}


async def _paid_charge_id(
    client: stripe.StripeClient, control: EmulatorControl, params: Any
) -> str:
    session = await client.v1.checkout.sessions.create_async(params())
    charge_id: str = (await control.complete_session(session.id))["charge"]["id"]
    return charge_id


async def _refunds_of(client: stripe.StripeClient, charge_id: str) -> list[str]:
    return [r.id for r in (await client.v1.refunds.list_async({"charge": charge_id})).data]


async def test_refund_retried_after_its_webhook_landed_refunds_once(
    emulator: str,
    client: stripe.StripeClient,
    control: EmulatorControl,
    receiver: WebhookReceiver,
    params: Any,
) -> None:
    charge_id = await _paid_charge_id(client, control, params)
    form = {"charge": charge_id, "amount": "3000", "metadata[refund_request]": "rr-1"}
    headers = {**REFUND_HEADERS, "Idempotency-Key": "refund-rr-1"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{emulator}/v1/refunds", data=form, headers=headers) as first:
            assert first.status == 200
            assert "Idempotent-Replayed" not in first.headers
            refund = await first.json()
        landed = await receiver.wait_for_event("refund.created")
        assert landed["request"]["idempotency_key"] == "refund-rr-1"
        assert landed["data"]["object"]["id"] == refund["id"]
        await receiver.wait_for_event("charge.refunded")
        async with http.post(f"{emulator}/v1/refunds", data=form, headers=headers) as retry:
            assert retry.status == 200
            assert retry.headers["Idempotent-Replayed"] == "true"
            assert await retry.json() == refund, "the very same answer"

    assert await _refunds_of(client, charge_id) == [refund["id"]]
    charge = await client.v1.charges.retrieve_async(charge_id)
    assert charge.amount_refunded == 3000
    emitted = await client.v1.events.list_async({"type": "refund.created"})
    assert [e.data.object["id"] for e in emitted.data] == [refund["id"]]


async def test_refund_key_with_other_parameters_is_an_idempotency_error(
    client: stripe.StripeClient, control: EmulatorControl, params: Any
) -> None:
    charge_id = await _paid_charge_id(client, control, params)
    first = await client.v1.refunds.create_async(
        {"charge": charge_id, "amount": 1000}, {"idempotency_key": "refund-key"}
    )
    others: list[Any] = [
        {"charge": charge_id, "amount": 2000},
        {"charge": charge_id},
        {"charge": charge_id, "amount": 1000, "reason": "requested_by_customer"},
    ]
    for other in others:
        with pytest.raises(stripe.IdempotencyError) as caught:
            await client.v1.refunds.create_async(other, {"idempotency_key": "refund-key"})
        assert caught.value.http_status == 400
        assert caught.value.error is not None
        assert caught.value.error.type == "idempotency_error"
        assert "refund-key" in str(caught.value.user_message)
    assert await _refunds_of(client, charge_id) == [first.id]
    assert (await client.v1.charges.retrieve_async(charge_id)).amount_refunded == 1000


async def test_concurrent_refunds_with_one_key_refund_once(
    client: stripe.StripeClient, control: EmulatorControl, params: Any
) -> None:
    charge_id = await _paid_charge_id(client, control, params)
    answers = await asyncio.gather(
        *(
            client.v1.refunds.create_async(
                {"charge": charge_id, "amount": 500}, {"idempotency_key": "refund-race"}
            )
            for _ in range(5)
        )
    )
    assert {a.id for a in answers} == {answers[0].id}
    assert await _refunds_of(client, charge_id) == [answers[0].id]
    assert (await client.v1.charges.retrieve_async(charge_id)).amount_refunded == 500


async def test_equal_refunds_with_different_keys_are_two_refunds(
    client: stripe.StripeClient, control: EmulatorControl, params: Any
) -> None:
    """Stripe deduplicates by key only: two keys are two refunds, whatever the amounts."""
    charge_id = await _paid_charge_id(client, control, params)
    one = await client.v1.refunds.create_async(
        {"charge": charge_id, "amount": 500}, {"idempotency_key": "refund-a"}
    )
    two = await client.v1.refunds.create_async(
        {"charge": charge_id, "amount": 500}, {"idempotency_key": "refund-b"}
    )
    assert one.id != two.id
    assert (await client.v1.charges.retrieve_async(charge_id)).amount_refunded == 1000
