"""Scheduling's view of contracts, fed by events published through the real broker."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from skileez_events import CloudEvent
from skileez_scheduling.adapters.tables import inbox, sessions

from .conftest import (
    Scheduling,
    activated,
    cancelled,
    created,
    in_days,
    reinstated,
    suspended,
)

pytestmark = pytest.mark.timeout(60)


async def inbox_rows(scheduling: Scheduling) -> int:
    async with scheduling.engine.connect() as conn:
        query = select(func.count()).select_from(inbox.table)
        return int((await conn.execute(query)).scalar_one())


async def test_created_makes_a_pending_contract_and_activated_an_active_one(
    scheduling: Scheduling,
) -> None:
    contract_id = uuid.uuid4()
    await scheduling.publish(created(contract_id))
    await scheduling.wait_for_status(contract_id, "pending")
    await scheduling.publish(activated(contract_id))
    await scheduling.wait_for_status(contract_id, "active")
    status, listed = await scheduling.call(
        "GET", f"/contracts/{contract_id}/sessions", user="coach-1"
    )
    assert status == 200
    assert listed["session_count"] == 3


async def test_activated_before_created_still_ends_active(scheduling: Scheduling) -> None:
    contract_id = uuid.uuid4()
    await scheduling.publish(activated(contract_id))
    await scheduling.wait_for_status(contract_id, "active")
    await scheduling.publish(created(contract_id))
    await scheduling.wait_until_handled(2)
    assert await scheduling.contract_status(contract_id) == "active"
    assert (await scheduling.book(contract_id, in_days(1)))[0] == 201


@pytest.mark.parametrize(
    "order", list(itertools.permutations(["created", "activated", "cancelled"]))
)
async def test_every_order_of_the_three_events_ends_closed(
    scheduling: Scheduling, order: tuple[str, ...]
) -> None:
    contract_id = uuid.uuid4()
    make = {"created": created, "activated": activated, "cancelled": cancelled}
    for name in order:  # one at a time, so the order of arrival is the order given
        handled = await inbox_rows(scheduling)
        await scheduling.publish(make[name](contract_id))
        await scheduling.wait_until_handled(handled + 1)
    assert await scheduling.contract_status(contract_id) == "closed"
    status, problem = await scheduling.book(contract_id, in_days(1))
    assert (status, problem["code"]) == (409, "contract_closed")


async def publish_in_turn(scheduling: Scheduling, *events: CloudEvent) -> None:
    """Publish one at a time, each handled before the next, so arrival follows the order given."""
    for event in events:
        handled = await inbox_rows(scheduling)
        await scheduling.publish(event)
        await scheduling.wait_until_handled(handled + 1)


async def test_a_stale_suspension_does_not_undo_a_later_reinstatement(
    scheduling: Scheduling,
) -> None:
    contract_id = await scheduling.active_contract()
    disputed_at = datetime.now(UTC)
    dispute = suspended(contract_id, suspended_at=disputed_at)
    won = reinstated(contract_id, reinstated_at=disputed_at + timedelta(minutes=5))
    # The reinstatement overtakes its suspension, which then comes again, redelivered and
    # republished under a new id.
    await publish_in_turn(scheduling, won, dispute)
    handled = await inbox_rows(scheduling)
    await scheduling.publish(dispute, suspended(contract_id, suspended_at=disputed_at))
    await scheduling.wait_until_handled(handled + 1)
    await scheduling.settle()
    assert await inbox_rows(scheduling) == handled + 1
    assert await scheduling.contract_status(contract_id) == "active"
    assert (await scheduling.book(contract_id, in_days(1)))[0] == 201

    # A second dispute, later than the reinstatement, suspends it again.
    again = suspended(
        contract_id, reason="second dispute", suspended_at=disputed_at + timedelta(days=1)
    )
    await publish_in_turn(scheduling, again)
    assert await scheduling.contract_status(contract_id) == "suspended"
    status, problem = await scheduling.book(contract_id, in_days(2))
    assert (status, problem["code"]) == (409, "contract_suspended")
    assert "second dispute" in problem["detail"]


@pytest.mark.parametrize("order", [("cancelled", "suspended"), ("suspended", "cancelled")])
async def test_a_suspension_of_a_cancelled_contract_leaves_it_closed(
    scheduling: Scheduling, order: tuple[str, ...]
) -> None:
    contract_id = await scheduling.active_contract()
    make = {"cancelled": cancelled, "suspended": suspended}
    await publish_in_turn(scheduling, *(make[name](contract_id) for name in order))
    assert await scheduling.contract_status(contract_id) == "closed"
    status, problem = await scheduling.book(contract_id, in_days(1))
    assert (status, problem["code"]) == (409, "contract_closed")


async def test_a_lost_dispute_cancels_the_future_sessions_of_the_suspended_contract(
    scheduling: Scheduling,
) -> None:
    contract_id = await scheduling.active_contract(session_count=3)
    booked = [(await scheduling.book(contract_id, in_days(days)))[1] for days in (1, 2)]
    await scheduling.publish(suspended(contract_id))
    await scheduling.wait_for_status(contract_id, "suspended")

    await scheduling.publish(cancelled(contract_id, reason="payment dispute lost"))
    await scheduling.wait_for_status(contract_id, "closed")
    status, listed = await scheduling.call("GET", f"/contracts/{contract_id}/sessions")
    assert status == 200
    assert listed["closed_reason"] == "payment dispute lost"
    assert {s["id"] for s in listed["sessions"]} == {session["id"] for session in booked}
    for session in listed["sessions"]:
        assert (session["status"], session["cancellation_reason"]) == (
            "cancelled",
            "payment dispute lost",
        )


async def test_duplicated_events_have_one_effect(scheduling: Scheduling) -> None:
    contract_id = await scheduling.active_contract(session_count=2)
    _, session = await scheduling.book(contract_id, in_days(1))
    handled = await inbox_rows(scheduling)

    # The same cancellation delivered five times, and the same facts again under new ids.
    cancellation = cancelled(contract_id, reason="refunded")
    await scheduling.publish(*[cancellation] * 5)
    await scheduling.publish(created(contract_id), activated(contract_id))
    await scheduling.wait_until_handled(handled + 3)
    # Later only once those are applied: batches run side by side, and two events about one
    # contract in different batches apply in the order they take its lock, not of publication.
    later = cancelled(contract_id, reason="a second, later reason")
    await scheduling.publish(later)
    await scheduling.wait_until_handled(handled + 4)
    await scheduling.settle()
    assert await inbox_rows(scheduling) == handled + 4

    status, listed = await scheduling.call("GET", f"/contracts/{contract_id}/sessions")
    assert status == 200
    assert listed["contract_status"] == "closed"
    assert listed["closed_reason"] == "refunded"
    [only] = listed["sessions"]
    assert only["id"] == session["id"]
    assert only["cancellation_reason"] == "refunded"


async def test_a_refund_cancels_future_sessions_visibly_to_both_parties(
    scheduling: Scheduling,
) -> None:
    contract_id = await scheduling.active_contract(session_count=4)
    assert (await scheduling.book(contract_id, in_days(1)))[0] == 201
    assert (await scheduling.book(contract_id, in_days(2), user="coach-1"))[0] == 201
    past_id = uuid.uuid4()
    held = datetime.now(UTC) - timedelta(days=3)
    async with scheduling.engine.begin() as conn:  # a session that already took place
        await conn.execute(
            insert(sessions).values(
                id=past_id,
                contract_id=contract_id,
                student_id="student-1",
                coach_id="coach-1",
                starts_at=held,
                ends_at=held + timedelta(hours=1),
                status="scheduled",
                booked_by="student-1",
                created_at=held - timedelta(days=1),
            )
        )

    await scheduling.publish(cancelled(contract_id, reason="refunded by an admin"))
    await scheduling.wait_for_status(contract_id, "closed")

    for party in ("student-1", "coach-1"):
        status, listed = await scheduling.call(
            "GET", f"/contracts/{contract_id}/sessions", user=party
        )
        assert status == 200
        by_id = {s["id"]: s for s in listed["sessions"]}
        assert by_id.pop(str(past_id))["status"] == "scheduled"
        assert len(by_id) == 2
        for session in by_id.values():
            assert session["status"] == "cancelled"
            assert session["cancellation_reason"] == "refunded by an admin"
            assert session["cancelled_by"] is None
        assert listed["closed_reason"] == "refunded by an admin"
    status, page = await scheduling.call(
        "GET", f"/contracts/{contract_id}/schedule", user="coach-1"
    )
    assert status == 200
    assert page.count("refunded by an admin") >= 3


async def test_a_burst_of_created_and_activated_pairs_ends_with_every_contract_active(
    scheduling: Scheduling,
) -> None:
    """Batches lock (or create) their contracts ahead; a pair in one batch shares one view."""
    contract_ids = [uuid.uuid4() for _ in range(40)]
    await scheduling.publish(
        *(event(contract_id) for contract_id in contract_ids for event in (created, activated))
    )
    await scheduling.wait_until_handled(80)
    for contract_id in contract_ids:
        assert await scheduling.contract_status(contract_id) == "active"
        status, listed = await scheduling.call("GET", f"/contracts/{contract_id}/sessions")
        assert status == 200
        assert listed["session_count"] == 3
