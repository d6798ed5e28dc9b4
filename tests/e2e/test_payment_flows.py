"""The flows, over HTTP as clients call them, with every service a real process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from skileez_events import CloudEvent, Names
from skileez_events.testing import tap, wait_until
from skileez_system.client import (
    Emulator,
    Parties,
    contract_where,
    paid_contract,
    pending_contract,
    start_checkout,
)
from skileez_system.system import System


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
    assert parties.student.name in notes[0]["message"]

    booked = await until_booking_is(parties, contract["id"], 201, a_slot())
    assert booked.body["contract_id"] == contract["id"]


async def test_no_key_or_secret_reaches_any_log(
    parties: Parties, emulator: Emulator, system: System
) -> None:
    await paid_contract(parties, emulator)
    secrets = (
        system.config.jwt_secret,
        system.config.webhook_secret,
        system.config.stripe_secret_key,
        parties.student.token,
    )
    for name, process in system.processes.items():
        log = process.log_path.read_text()
        assert log, f"{name} logged nothing: this check would prove nothing"
        for secret in secrets:
            assert secret not in log, f"{name} logged a secret"


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


async def test_the_checkout_requests_correlation_id_is_on_payment_succeeded_and_contract_activated(
    parties: Parties, emulator: Emulator, system: System
) -> None:
    contract = await pending_contract(parties)
    names = Names(system.config.namespace)
    async with tap(system.config.amqp_url, names) as published:
        pay = await wait_until(
            lambda: _pay(parties, contract["id"], correlation_id="checkout-e2e-1"), timeout=20
        )
        await emulator.complete(pay.body["checkout_session_id"], "paid")
        await contract_where(parties.student, contract["id"], status="active")

        def correlations() -> dict[str, str] | None:
            found = {
                event.type.split(".")[2]: event.correlationid
                for event in (CloudEvent.from_json(message.body) for message in published)
                if event.subject == contract["id"]
            }
            return found if "ContractActivated" in found else None

        found = await wait_until(correlations)
    assert found["PaymentSucceeded"] == "checkout-e2e-1"
    assert found["ContractActivated"] == "checkout-e2e-1"


async def _pay(parties: Parties, contract_id: str, correlation_id: str) -> Any:
    answer = await parties.student.call(
        "POST",
        "payments",
        f"/contracts/{contract_id}/pay",
        headers={"X-Correlation-Id": correlation_id},
    )
    return None if answer.status == 404 else answer
