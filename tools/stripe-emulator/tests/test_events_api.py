"""The Events API: filters, pagination and the 30-day retention."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from stripe_emulator.testing import EmulatorControl


async def _paid_session(client: stripe.StripeClient, control: EmulatorControl, params: Any) -> str:
    session = await client.v1.checkout.sessions.create_async(params())
    await control.complete_session(session.id, "paid")
    return session.id


async def test_list_filters_by_type_types_and_created(
    client: stripe.StripeClient, control: EmulatorControl, params: Any
) -> None:
    first = await _paid_session(client, control, params)
    later = (await control.advance_clock(60))["now"]
    second = await _paid_session(client, control, params)

    completed = await client.v1.events.list_async({"type": "checkout.session.completed"})
    assert [e.data.object["id"] for e in completed.data] == [second, first], "newest first"

    several = await client.v1.events.list_async(
        {"types": ["charge.succeeded", "payment_intent.succeeded"]}
    )
    assert sorted(e.type for e in several.data) == [
        "charge.succeeded",
        "charge.succeeded",
        "payment_intent.succeeded",
        "payment_intent.succeeded",
    ]
    wildcard = await client.v1.events.list_async({"type": "payment_intent.*"})
    assert {e.type for e in wildcard.data} == {"payment_intent.created", "payment_intent.succeeded"}

    recent = await client.v1.events.list_async(
        {"type": "checkout.session.completed", "created": {"gte": later}}
    )
    assert [e.data.object["id"] for e in recent.data] == [second]
    older = await client.v1.events.list_async({"created": {"lt": later}})
    assert all(e.created < later for e in older.data)
    assert len(older.data) == 4


async def test_pagination_with_limit_and_starting_after(
    client: stripe.StripeClient, control: EmulatorControl, params: Any
) -> None:
    await _paid_session(client, control, params)
    await _paid_session(client, control, params)
    everything = await client.v1.events.list_async({"limit": 100})
    assert len(everything.data) == 8
    page = await client.v1.events.list_async({"limit": 3})
    assert page.has_more is True
    ids = [e.id for e in page.data]
    while page.has_more:
        page = await client.v1.events.list_async({"limit": 3, "starting_after": ids[-1]})
        ids += [e.id for e in page.data]
    assert ids == [e.id for e in everything.data]
    retrieved = await client.v1.events.retrieve_async(ids[0])
    assert retrieved.id == ids[0]
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.events.list_async({"limit": 101})


async def test_events_are_kept_thirty_days(
    client: stripe.StripeClient, control: EmulatorControl, params: Any
) -> None:
    await _paid_session(client, control, params)
    events = await client.v1.events.list_async()
    assert len(events.data) == 4
    await control.advance_clock(29 * 86_400)
    assert len((await client.v1.events.list_async()).data) == 4
    await control.advance_clock(2 * 86_400)
    assert (await client.v1.events.list_async()).data == []
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.events.retrieve_async(events.data[0].id)
    assert caught.value.http_status == 404


async def test_updated_events_carry_previous_attributes(
    client: stripe.StripeClient, control: EmulatorControl, params: Any
) -> None:
    session = await client.v1.checkout.sessions.create_async(params())
    charge = (await control.complete_session(session.id))["charge"]
    refund = await client.v1.refunds.create_async(
        {"charge": charge["id"], "amount": 500, "metadata": {"ticket": "1"}}
    )
    await client.v1.refunds.update_async(refund.id, {"metadata": {"ticket": "2"}})
    updated = await client.v1.events.list_async({"type": "refund.updated"})
    assert len(updated.data) == 1
    event = updated.data[0]
    assert event.data.object["metadata"].to_dict() == {"ticket": "2"}
    assert event.data.previous_attributes is not None
    assert event.data.previous_attributes["metadata"].to_dict() == {"ticket": "1"}
    assert event.request.idempotency_key, "API-caused events carry the idempotency key"
