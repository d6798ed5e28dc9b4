"""Where real money goes wrong, end to end (issue 20): disputes suspend, reinstate or cancel a
contract; a held payment is refunded at review without touching the contract it did not pay;
a refund retried with one Idempotency-Key refunds once at Stripe."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
from test_payment_flows import a_slot, booking, until_booking_is

from skileez_events import CloudEvent, Names
from skileez_events.testing import tap, wait_until
from skileez_system.client import (
    Actor,
    Emulator,
    Parties,
    contract_where,
    paid_contract,
    pending_contract,
    start_checkout,
)
from skileez_system.system import System
from skileez_web.auth import Role
from stripe_emulator.testing import EmulatorControl

RECONCILE_INTERVAL_SECONDS = 20
"""Reconciliation recovers the dropped webhooks of the double payment; the test sets the double
payment up right after a pass ended, so the next pass comes this long after, once it is set up."""


# -- helpers ---------------------------------------------------------------------------------


async def payment_where(actor: Actor, payment_id: str, **expected: Any) -> Any:
    async def probe() -> Any:
        answer = await actor.call("GET", "payments", f"/payments/{payment_id}")
        matches = all(answer.body.get(key) == value for key, value in expected.items())
        return answer.body if matches else None

    return await wait_until(probe, timeout=60)


async def stripe_get(emulator: Emulator, http: aiohttp.ClientSession, path: str) -> Any:
    """Stripe's own API at the emulator, with the secret key payments uses."""
    async with http.get(
        f"{emulator.base_url}{path}",
        headers={"Authorization": f"Bearer {emulator.secret_key}"},
    ) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def refunds_at_stripe(
    emulator: Emulator, http: aiohttp.ClientSession, charge_id: str
) -> list[Any]:
    listed = await stripe_get(emulator, http, f"/v1/refunds?charge={charge_id}&limit=100")
    return [refund for refund in listed["data"] if refund["charge"] == charge_id]


async def sessions_of(parties: Parties, contract_id: str) -> list[Any]:
    answer = await parties.coach.call("GET", "scheduling", f"/contracts/{contract_id}/sessions")
    assert answer.status == 200, answer.body
    return list(answer.body["sessions"])


async def refund(admin: Actor, payment_id: str, key: str, body: dict[str, Any]) -> Any:
    return await admin.call(
        "POST",
        "payments",
        f"/payments/{payment_id}/refunds",
        body,
        headers={"Idempotency-Key": key},
    )


async def stays(probe: Callable[[], Any], seconds: float) -> None:
    """A negative check: `probe` holds on every poll for `seconds` (what must not happen would
    have shown by then), instead of one look after a bare sleep."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert await probe()
        await asyncio.sleep(0.2)


async def reconciliation_passes(http: aiohttp.ClientSession, system: System) -> float:
    """How many reconciliation passes payments has run to the end (its own metric)."""
    async with http.get(f"{system.url('payments')}/metrics") as answer:
        text = await answer.text()
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("skileez_reconciliation_passes_total ")
    )


async def just_after_a_reconciliation_pass(http: aiohttp.ClientSession, system: System) -> None:
    before = await reconciliation_passes(http, system)

    async def one_more() -> bool:
        return await reconciliation_passes(http, system) > before

    await wait_until(one_more, timeout=RECONCILE_INTERVAL_SECONDS * 3, interval=0.2)


def events_of(published: list[Any], name: str) -> list[CloudEvent]:
    decoded = (CloudEvent.from_json(message.body) for message in published)
    return [event for event in decoded if event.type.split(".")[2] == name]


# -- 1. dispute won --------------------------------------------------------------------------


async def test_a_dispute_suspends_the_contract_refuses_bookings_and_a_won_one_reinstates_it(
    parties: Parties, emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    paid = await paid_contract(parties, emulator)
    contract_id, payment_id = paid.contract["id"], paid.checkout["payment_id"]
    control = EmulatorControl(emulator.base_url, http)

    dispute = await control.dispute(paid.completion["charge"]["id"], reason="fraudulent")
    await payment_where(parties.admin, payment_id, status="disputed")
    suspended = await contract_where(
        parties.student, contract_id, status="suspended", payment_status="disputed"
    )
    assert suspended["stripe_payment_intent_id"] == paid.completion["payment_intent"]["id"]

    refused = await until_booking_is(parties, contract_id, 409, a_slot())
    assert refused.body["code"] == "contract_suspended", refused.body

    await control.close_dispute(dispute["id"], "won")
    await contract_where(parties.student, contract_id, status="active", payment_status="paid")
    won = await payment_where(parties.admin, payment_id, dispute_outcome="won")
    assert won["stripe_dispute_id"] == dispute["id"]

    # Another slot: a booking made before scheduling heard of the suspension may hold the first.
    booked = await until_booking_is(parties, contract_id, 201, a_slot(days=4))
    assert booked.body["contract_id"] == contract_id


# -- 2. dispute lost -------------------------------------------------------------------------


async def test_a_lost_dispute_cancels_the_contract_as_refunded_and_its_future_sessions(
    parties: Parties, emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    paid = await paid_contract(parties, emulator)
    contract_id, payment_id = paid.contract["id"], paid.checkout["payment_id"]
    session = (await until_booking_is(parties, contract_id, 201, a_slot(days=5))).body
    control = EmulatorControl(emulator.base_url, http)

    dispute = await control.dispute(paid.completion["charge"]["id"], reason="fraudulent")
    await contract_where(
        parties.student, contract_id, status="suspended", payment_status="disputed"
    )
    await control.close_dispute(dispute["id"], "lost")

    await contract_where(
        parties.student, contract_id, status="cancelled", payment_status="refunded"
    )
    lost = await payment_where(parties.admin, payment_id, dispute_outcome="lost")
    assert lost["stripe_dispute_id"] == dispute["id"]

    async def session_cancelled() -> Any:
        mine = [s for s in await sessions_of(parties, contract_id) if s["id"] == session["id"]]
        return mine[0] if mine and mine[0]["status"] == "cancelled" else None

    cancelled = await wait_until(session_cancelled, timeout=30)
    assert cancelled["cancellation_reason"]
    refused = await booking(parties, contract_id, a_slot(days=6))
    assert (refused.status, refused.body["code"]) == (409, "contract_closed")


# -- 3. a held double payment refunded at review ---------------------------------------------


async def test_a_double_payment_is_held_and_refunded_at_review_while_the_contract_stays_active(
    start_system: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    """Money taken twice, end to end: the student pays session A but Stripe's webhooks for it
    are lost, and Stripe then forgets session A, so payments gives up on it and the student pays
    a new session B (the contract is active). Reconciliation finds A's lost completion in
    Stripe's Events API: A is held, and refunded whole at review; the contract, paid by B,
    is not cancelled."""
    system: System = await start_system(
        extra_env={"payments": {"RECONCILE_INTERVAL_SECONDS": str(RECONCILE_INTERVAL_SECONDS)}}
    )
    parties = Parties(
        student=Actor(http, system, Role.STUDENT),
        coach=Actor(http, system, Role.COACH),
        admin=Actor(http, system, Role.ADMIN),
    )
    emulator = Emulator(http, system.url("emulator"), system.config.stripe_secret_key)
    control = EmulatorControl(emulator.base_url, http)
    contract = await pending_contract(parties)
    contract_id = contract["id"]

    async with tap(system.config.amqp_url, Names(system.config.namespace)) as published:
        await just_after_a_reconciliation_pass(http, system)
        first = await start_checkout(parties.student, contract_id)
        await control.drop_next_deliveries(4)  # the four events paying a session emits
        paid_first = await control.complete_session(first["checkout_session_id"], "paid")
        dropped = await control.deliveries(
            event_type="checkout.session.completed", outcome="dropped"
        )
        assert [d["event_id"] for d in dropped], "the first completion must not be delivered"
        await control.forget_session(first["checkout_session_id"])

        second = await start_checkout(parties.student, contract_id)
        assert second["payment_id"] != first["payment_id"]
        await emulator.complete(second["checkout_session_id"], "paid")
        active = await contract_where(
            parties.student, contract_id, status="active", payment_status="paid"
        )

        held = await payment_where(parties.admin, first["payment_id"], status="held_for_review")
        assert second["payment_id"] in held["review_reason"]  # "already paid by" B
        assert held["payment_intent_id"] == paid_first["payment_intent"]["id"]
        await wait_until(
            lambda: [
                e
                for e in events_of(published, "PaymentHeld")
                if e.data["payment_id"] == first["payment_id"]
            ],
            timeout=30,
        )

        note = "Paid twice: the first session's money goes back"
        reviewed = await parties.admin.call(
            "POST",
            "payments",
            f"/payments/{first['payment_id']}/review",
            {"decision": "refund", "note": note},
        )
        assert reviewed.status == 200, reviewed.body
        assert reviewed.body["review"]["decision"] == "refund"
        assert reviewed.body["review"]["reviewer"] == parties.admin.user_id

        await payment_where(parties.admin, first["payment_id"], status="refunded")
        charge_id = paid_first["charge"]["id"]
        [stripe_refund] = await refunds_at_stripe(emulator, http, charge_id)
        assert stripe_refund["amount"] == paid_first["charge"]["amount"]
        charge = await stripe_get(emulator, http, f"/v1/charges/{charge_id}")
        assert charge["refunded"] is True
        await wait_until(
            lambda: [
                e
                for e in events_of(published, "PaymentRefunded")
                if e.data["payment_id"] == first["payment_id"]
            ],
            timeout=30,
        )

        async def still_active() -> bool:
            answer = await parties.student.call("GET", "contracts", f"/contracts/{contract_id}")
            body = answer.body
            return (body["status"], body["payment_status"]) == ("active", "paid")

        await stays(still_active, seconds=3)
        assert not events_of(published, "ContractCancelled")

    now = await parties.student.call("GET", "contracts", f"/contracts/{contract_id}")
    assert now.body["stripe_payment_intent_id"] == active["stripe_payment_intent_id"]
    await payment_where(parties.admin, second["payment_id"], status="succeeded")
    reviews = await parties.admin.call(
        "GET", "payments", f"/payments/{first['payment_id']}/reviews"
    )
    assert [(r["decision"], r["note"]) for r in reviews.body["reviews"]] == [("refund", note)]
    booked = await until_booking_is(parties, contract_id, 201, a_slot())
    assert booked.body["contract_id"] == contract_id


# -- 4. a refund retried with one Idempotency-Key --------------------------------------------


async def test_a_refund_retried_with_one_key_after_its_webhook_landed_refunds_once(
    parties: Parties, emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    paid = await paid_contract(parties, emulator)
    payment_id, charge_id = paid.checkout["payment_id"], paid.completion["charge"]["id"]
    key = f"refund-{uuid.uuid4()}"

    missing = await parties.admin.call(
        "POST", "payments", f"/payments/{payment_id}/refunds", {"amount": 5_000}
    )
    assert (missing.status, missing.body["code"]) == (400, "idempotency_key_required")

    first = await refund(parties.admin, payment_id, key, {"amount": 5_000})
    assert first.status == 202, first.body
    assert first.body["amount"] == 5_000
    assert first.body["stripe_refund_id"].startswith("re_")
    await payment_where(parties.admin, payment_id, amount_refunded=5_000)  # its webhook landed

    again = await refund(parties.admin, payment_id, key, {"amount": 5_000})
    assert again.status == 202, again.body
    assert again.body == first.body

    [only] = await refunds_at_stripe(emulator, http, charge_id)
    assert (only["id"], only["amount"]) == (first.body["stripe_refund_id"], 5_000)
    charge = await stripe_get(emulator, http, f"/v1/charges/{charge_id}")
    assert charge["amount_refunded"] == 5_000

    reused = await refund(parties.admin, payment_id, key, {"amount": 6_000})
    assert reused.status == 409, reused.body
    assert reused.body["code"] == "idempotency_key_reused"
    assert len(await refunds_at_stripe(emulator, http, charge_id)) == 1

    shown = await payment_where(parties.admin, payment_id, amount_refunded=5_000)
    assert shown["status"] != "refunded"  # partly refunded: the contract's money is not all back
    partly = await parties.student.call("GET", "contracts", f"/contracts/{paid.contract['id']}")
    assert partly.body["status"] == "active"
