"""The flows, over HTTP as clients call them, with every service a real process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from e2e_client import Emulator, Parties, contract_where, pending_contract, start_checkout

from skileez_events.testing import wait_until


def a_slot(days: int = 3, hour: int = 10) -> dict[str, Any]:
    starts = (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )
    return {"starts_at": starts.isoformat(), "duration_minutes": 60}


async def booking(parties: Parties, contract_id: str, slot: dict[str, Any]) -> Any:
    return await parties.student.call(
        "POST", "scheduling", f"/contracts/{contract_id}/sessions", slot
    )


async def until_booking_is(
    parties: Parties, contract_id: str, status: int, slot: dict[str, Any]
) -> Any:
    async def probe() -> Any:
        answer = await booking(parties, contract_id, slot)
        return answer if answer.status == status else None

    return await wait_until(probe, timeout=30)


async def test_pay_then_the_contract_activates_the_coach_is_notified_and_sessions_can_be_booked(
    parties: Parties, emulator: Emulator
) -> None:
    contract = await pending_contract(parties)
    refused = await until_booking_is(parties, contract["id"], 402, a_slot())
    assert refused.body["code"] == "payment_required"
    assert refused.body["payment_url"].endswith(f"/contracts/{contract['id']}/pay")

    checkout = await start_checkout(parties.student, contract["id"])
    await emulator.complete(checkout["checkout_session_id"], "paid")

    active = await contract_where(
        parties.student, contract["id"], status="active", payment_status="paid"
    )
    assert active["payment_date"] is not None
    assert active["stripe_payment_intent_id"].startswith("pi_")
    assert active["amount"] == 4 * 4_500

    notes = await notifications(parties, count=1)
    assert [(note["kind"], note["amount"], note["contract_id"]) for note in notes] == [
        ("payment_received", 18_000, contract["id"])
    ]
    assert parties.student.user_id in notes[0]["message"]

    booked = await until_booking_is(parties, contract["id"], 201, a_slot())
    assert booked.body["contract_id"] == contract["id"]


async def notifications(parties: Parties, count: int) -> list[Any]:
    """The coach's notifications once there are `count`; more than that fails."""

    async def probe() -> list[Any] | None:
        answer = await parties.coach.call("GET", "contracts", "/notifications")
        items = list(answer.body["items"])
        assert len(items) <= count, items
        return items if len(items) == count else None

    notes = await wait_until(probe, timeout=30)
    await asyncio.sleep(0.5)  # a duplicate notification would show up within this
    answer = await parties.coach.call("GET", "contracts", "/notifications")
    assert len(answer.body["items"]) == count
    return notes
