"""Webhook delivery: retries, timeouts, chaos, dropped deliveries and WebhookEndpoints."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import stripe

from stripe_emulator.settings import WebhookTarget
from stripe_emulator.testing import (
    TEST_SETTINGS,
    EmulatorControl,
    WebhookReceiver,
    running_emulator,
    running_webhook_receiver,
    wait_until,
)
from stripe_emulator.webhooks import ChaosMode, WebhookDispatcher


async def test_retries_after_the_receiver_answers_500(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    params: Any,
) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    receiver.fail_next = 2
    await client.v1.checkout.sessions.expire_async(session.id)
    event = await receiver.wait_for_event("checkout.session.expired")

    attempts = await control.deliveries(event_id=event["id"])
    assert [(a["attempt"], a["outcome"], a["status"]) for a in attempts] == [
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "delivered", 200),
    ]
    assert attempts[1]["at"] > attempts[0]["at"], "retried later, with backoff"
    retrieved = await client.v1.events.retrieve_async(event["id"])
    assert retrieved.pending_webhooks == 0


async def test_retries_after_a_timeout(params: Any) -> None:
    async with running_webhook_receiver("whsec_timeout") as receiver:
        receiver.stall_next = 1
        receiver.stall_seconds = 2.0
        async with running_emulator(
            webhooks=[(receiver.url, "whsec_timeout")], webhook_timeout=0.2
        ) as base_url:
            http = stripe.RequestsClient(async_fallback_client=stripe.AIOHTTPClient())
            client = stripe.StripeClient(
                "sk_test_t", base_addresses={"api": base_url}, http_client=http
            )
            try:
                session = await client.v1.checkout.sessions.create_async(params())
                await client.v1.checkout.sessions.expire_async(session.id)
                event = await receiver.wait_for_event("checkout.session.expired")
                attempts = await EmulatorControl(base_url).deliveries(event_id=event["id"])
            finally:
                await http.close_async()
    assert attempts[0]["outcome"] == "failed"
    assert "timed out" in attempts[0]["error"]
    assert attempts[-1]["outcome"] == "delivered"


async def test_gives_up_after_the_last_attempt(params: Any) -> None:
    async with running_webhook_receiver("whsec_gone") as receiver:
        receiver.fail_next = 100
        async with running_emulator(
            webhooks=[(receiver.url, "whsec_gone")], webhook_max_attempts=3
        ) as base_url:
            control = EmulatorControl(base_url)
            http = stripe.RequestsClient(async_fallback_client=stripe.AIOHTTPClient())
            client = stripe.StripeClient(
                "sk_test_g", base_addresses={"api": base_url}, http_client=http
            )
            try:
                session = await client.v1.checkout.sessions.create_async(params())
                await client.v1.checkout.sessions.expire_async(session.id)
                abandoned = await control.wait_for_delivery(outcome="abandoned")
                event = await client.v1.events.retrieve_async(abandoned[0]["event_id"])
            finally:
                await http.close_async()
    assert abandoned[0]["attempt"] == 3
    assert event.pending_webhooks == 1


async def test_chaos_mode_duplicates_and_reorders(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    params: Any,
) -> None:
    await control.set_chaos(duplicate_probability=1.0, max_delay=0.4, seed=7)
    sessions = [await client.v1.checkout.sessions.create_async(params()) for _ in range(8)]
    for session in sessions:
        await client.v1.checkout.sessions.expire_async(session.id)
    emitted = await client.v1.events.list_async({"type": "checkout.session.expired"})
    emitted_order = [e.id for e in reversed(emitted.data)]
    assert len(emitted_order) == 8

    await wait_until(
        lambda: len(receiver.events_of_type("checkout.session.expired")) >= 16,
        what="every expired event twice",
    )
    arrived = [e["id"] for e in receiver.events_of_type("checkout.session.expired")]
    assert sorted(set(arrived)) == sorted(emitted_order)
    assert all(arrived.count(event_id) == 2 for event_id in emitted_order), "duplicates"
    first_arrivals = list(dict.fromkeys(arrived))
    assert first_arrivals != emitted_order, "chaos mode reorders deliveries"
    duplicates = await control.deliveries(outcome="delivered")
    assert any(d["duplicate"] for d in duplicates)

    await control.set_normal_delivery()
    mode = await control._call("GET", "/_emulator/webhooks/mode")
    assert mode["mode"] == "normal"


async def test_dropped_delivery_is_recovered_through_the_events_api(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    params: Any,
) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    since = (await control.advance_clock(0))["now"]
    # Paying emits four events (PI created, charge and PI succeeded, session completed).
    await control.drop_next_deliveries(4)
    await control.complete_session(session.id, "paid")
    dropped = await control.deliveries(outcome="dropped")
    assert len(dropped) == 4
    assert receiver.events_of_type("checkout.session.completed") == []

    # What a reconciliation job does: read recent events and process the missing ones.
    recent = await client.v1.events.list_async(
        {"type": "checkout.session.completed", "created": {"gte": since}}
    )
    assert [e.data.object["id"] for e in recent.data] == [session.id]
    assert recent.data[0].id in {d["event_id"] for d in dropped}
    assert recent.data[0].pending_webhooks == 1, "never delivered"

    # Later deliveries are not affected.
    await client.v1.checkout.sessions.expire_async(
        (await client.v1.checkout.sessions.create_async(params())).id
    )
    await receiver.wait_for_event("checkout.session.expired")


async def test_webhook_endpoint_api_gets_its_own_secret_and_filter(
    client: stripe.StripeClient, control: EmulatorControl, params: Any
) -> None:
    async with running_webhook_receiver("placeholder") as second:
        endpoint = await client.v1.webhook_endpoints.create_async(
            {"url": second.url, "enabled_events": ["checkout.session.completed"]}
        )
        assert endpoint.secret is not None
        assert endpoint.secret.startswith("whsec_")
        assert endpoint.id.startswith("we_")
        second.secret = endpoint.secret

        session = await client.v1.checkout.sessions.create_async(params())
        await control.complete_session(session.id, "paid")
        completed = await second.wait_for_event("checkout.session.completed")
        assert completed["data"]["object"]["id"] == session.id
        await control.wait_for_delivery(url=second.url, outcome="delivered")
        assert {e["type"] for e in second.events} == {"checkout.session.completed"}
        assert all(r.status == 200 for r in second.received), "signed with the endpoint secret"

        retrieved = await client.v1.webhook_endpoints.retrieve_async(endpoint.id)
        assert "secret" not in retrieved
        deleted = await client.v1.webhook_endpoints.delete_async(endpoint.id)
        assert deleted.deleted is True
        listed = await client.v1.webhook_endpoints.list_async()
        assert listed.data == []


async def test_the_delivery_loop_stops_when_cancelled_as_a_delivery_is_queued() -> None:
    """Cancelled in the very tick a new delivery wakes it (an app shutting down while webhooks
    are queued): on Python 3.11 `asyncio.wait_for` swallowed that cancellation, and the loop ran
    on, so the app's shutdown waited for it forever."""
    dispatcher = WebhookDispatcher(TEST_SETTINGS, on_delivered=lambda *_: None)
    dispatcher.set_chaos(ChaosMode(duplicate_probability=0, max_delay=60), seed=1)
    target = [WebhookTarget("http://127.0.0.1:9/unreachable", "whsec_test")]
    async with aiohttp.ClientSession() as http:
        delivering = asyncio.create_task(dispatcher.run(http))
        dispatcher.enqueue("evt_later", "checkout.session.completed", b"{}", target)
        await asyncio.sleep(0.05)  # the loop now waits, with a timeout, for that delivery
        dispatcher.enqueue("evt_next", "checkout.session.completed", b"{}", target)
        delivering.cancel()
        done, _ = await asyncio.wait({delivering}, timeout=5)
        if not done:  # it swallowed the cancellation: stop it before failing
            delivering.cancel()
            await asyncio.wait({delivering}, timeout=5)
    assert done == {delivering}
    assert delivering.cancelled()
