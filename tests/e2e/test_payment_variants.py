"""Declines, delayed methods, expiry, refunds, disputes and Stripe's delivery quirks, end to end."""

from __future__ import annotations

from typing import Any

from test_payment_flows import a_slot, booking, notifications, until_booking_is

from skileez_events.testing import wait_until
from skileez_system.client import (
    Emulator,
    Parties,
    contract_where,
    paid_contract,
    pending_contract,
    start_checkout,
)


async def payment_where(parties: Parties, payment_id: str, **expected: Any) -> Any:
    async def probe() -> Any:
        answer = await parties.student.call("GET", "payments", f"/payments/{payment_id}")
        return answer.body if all(answer.body.get(k) == v for k, v in expected.items()) else None

    return await wait_until(probe, timeout=30)


async def test_a_declined_card_leaves_the_contract_pending_and_failed_and_a_retry_succeeds(
    parties: Parties, emulator: Emulator
) -> None:
    contract = await pending_contract(parties)
    checkout = await start_checkout(parties.student, contract["id"])
    await emulator.complete(checkout["checkout_session_id"], "declined")
    failed = await contract_where(parties.student, contract["id"], payment_status="failed")
    assert failed["status"] == "pending"
    assert (await booking(parties, contract["id"], a_slot())).status == 402

    retry = await start_checkout(parties.student, contract["id"])
    await emulator.complete(retry["checkout_session_id"], "paid")
    await contract_where(parties.student, contract["id"], status="active", payment_status="paid")
    kinds = [note["kind"] for note in await notifications(parties, count=2)]
    assert sorted(kinds) == ["payment_failed", "payment_received"]


async def test_a_delayed_method_that_succeeds_activates_only_once_it_settles(
    parties: Parties, emulator: Emulator
) -> None:
    contract = await pending_contract(parties)
    checkout = await start_checkout(parties.student, contract["id"])
    await emulator.complete(checkout["checkout_session_id"], "pending_async")
    await payment_where(parties, checkout["payment_id"], status="processing")

    async def processing() -> Any:  # once contracts has heard PaymentProcessing
        answer = await parties.student.call("GET", "contracts", f"/contracts/{contract['id']}")
        return answer.body if answer.body["payment_processing_since"] else None

    pending = await wait_until(processing, timeout=30)
    assert (pending["status"], pending["payment_status"]) == ("pending", "pending")

    await emulator.post(
        f"/checkout/sessions/{checkout['checkout_session_id']}/settle", {"outcome": "succeeded"}
    )
    await contract_where(parties.student, contract["id"], status="active", payment_status="paid")


async def test_a_delayed_method_that_fails_marks_the_payment_failed(
    parties: Parties, emulator: Emulator
) -> None:
    contract = await pending_contract(parties)
    checkout = await start_checkout(parties.student, contract["id"])
    await emulator.complete(checkout["checkout_session_id"], "pending_async")
    await payment_where(parties, checkout["payment_id"], status="processing")
    await emulator.post(
        f"/checkout/sessions/{checkout['checkout_session_id']}/settle", {"outcome": "failed"}
    )
    await payment_where(parties, checkout["payment_id"], status="failed")
    failed = await contract_where(parties.student, contract["id"], payment_status="failed")
    assert (failed["status"], failed["payment_processing_since"]) == ("pending", None)


async def test_an_expired_session_is_replaced_by_a_new_one_that_can_be_paid(
    parties: Parties, emulator: Emulator
) -> None:
    contract = await pending_contract(parties)
    first = await start_checkout(parties.student, contract["id"])
    await emulator.expire(first["checkout_session_id"])
    await payment_where(parties, first["payment_id"], status="expired")

    second = await start_checkout(parties.student, contract["id"])
    assert second["checkout_session_id"] != first["checkout_session_id"]
    await emulator.complete(second["checkout_session_id"], "paid")
    await contract_where(parties.student, contract["id"], status="active", payment_status="paid")


async def test_a_full_refund_cancels_the_contract_and_its_future_sessions(
    parties: Parties, emulator: Emulator
) -> None:
    paid = await paid_contract(parties, emulator)
    contract, checkout = paid.contract, paid.checkout
    session = (await until_booking_is(parties, contract["id"], 201, a_slot())).body

    refund = await parties.admin.call(
        "POST",
        "payments",
        f"/payments/{checkout['payment_id']}/refunds",
        {},
        headers={"Idempotency-Key": "e2e-full-refund"},
    )
    assert refund.status == 202, refund.body
    await payment_where(parties, checkout["payment_id"], status="refunded")
    await contract_where(
        parties.student, contract["id"], status="cancelled", payment_status="refunded"
    )

    async def session_cancelled() -> Any:
        answer = await parties.coach.call(
            "GET", "scheduling", f"/contracts/{contract['id']}/sessions"
        )
        mine = [s for s in _sessions(answer.body) if s["id"] == session["id"]]
        return mine if mine and mine[0]["status"] == "cancelled" else None

    [cancelled] = await wait_until(session_cancelled, timeout=30)
    assert cancelled["cancellation_reason"]
    refused = await booking(parties, contract["id"], a_slot(days=4))
    assert (refused.status, refused.body["code"]) == (409, "contract_closed")
    assert "payment_refunded" in [note["kind"] for note in await notifications(parties, count=2)]


async def test_a_refund_is_for_admins_only(parties: Parties, emulator: Emulator) -> None:
    contract = await pending_contract(parties)
    checkout = await start_checkout(parties.student, contract["id"])
    await emulator.complete(checkout["checkout_session_id"], "paid")
    await contract_where(parties.student, contract["id"], status="active")
    for actor in (parties.student, parties.coach):
        answer = await actor.call(
            "POST",
            "payments",
            f"/payments/{checkout['payment_id']}/refunds",
            {},
            headers={"Idempotency-Key": f"e2e-not-an-admin-{actor.user_id}"},
        )
        assert answer.status == 403


async def test_a_dispute_marks_the_payment_disputed(parties: Parties, emulator: Emulator) -> None:
    paid = await paid_contract(parties, emulator)
    await emulator.post(
        f"/charges/{paid.completion['charge']['id']}/dispute", {"reason": "fraudulent"}
    )
    await payment_where(parties, paid.checkout["payment_id"], status="disputed")


async def test_duplicated_delayed_and_reordered_webhooks_activate_once_and_notify_once(
    parties: Parties, emulator: Emulator
) -> None:
    await emulator.post(
        "/webhooks/mode",
        {"mode": "chaos", "duplicate_probability": 1.0, "max_delay": 0.5, "seed": 7},
    )
    contracts = [await pending_contract(parties) for _ in range(3)]
    for contract in contracts:
        checkout = await start_checkout(parties.student, contract["id"])
        await emulator.complete(checkout["checkout_session_id"], "paid")
    for contract in contracts:
        await contract_where(
            parties.student, contract["id"], status="active", payment_status="paid"
        )
    notes = await notifications(parties, count=3)
    assert sorted(note["contract_id"] for note in notes) == sorted(c["id"] for c in contracts)
    deliveries = await emulator.get("/webhooks/deliveries?event_type=checkout.session.completed")
    assert len(_items(deliveries)) >= 6  # every completion was delivered at least twice


def _sessions(body: Any) -> list[Any]:
    return list(body["sessions"])


def _items(body: Any) -> list[Any]:
    return list(body["data"])
