"""What keeps a contract's sessions from growing without end, over HTTP against the real service:
the list comes in pages, the schedule page shows the latest cancellations only, and booking
stops once a contract has had its allowance of cancellations."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from skileez_scheduling.entrypoints.schedule import CANCELLED_SHOWN

from .conftest import Scheduling, in_days

pytestmark = pytest.mark.timeout(90)

ALLOWANCE = 10
"""`CANCELLATION_ALLOWANCE`'s default, which the service under test runs with."""


async def book_and_cancel(scheduling: Scheduling, contract_id: uuid.UUID, times: int) -> None:
    for _ in range(times):
        status, session = await scheduling.book(contract_id, in_days(1))
        assert status == 201, session
        status, _ = await scheduling.call("POST", f"/sessions/{session['id']}/cancel")
        assert status == 200


async def test_a_cursor_walks_the_sessions_page_by_page_in_time_order(
    scheduling: Scheduling,
) -> None:
    contract_id = await scheduling.active_contract(session_count=5)
    booked = [(await scheduling.book(contract_id, in_days(day)))[1] for day in (3, 1, 5, 2, 4)]
    await scheduling.call("POST", f"/sessions/{booked[0]['id']}/cancel")
    path = f"/contracts/{contract_id}/sessions"

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        status, page = await scheduling.call("GET", path, params=params)
        assert status == 200, page
        assert len(page["sessions"]) <= 2
        assert (page["scheduled_count"], page["cancelled_count"]) == (4, 1)
        seen += [session["id"] for session in page["sessions"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    in_time_order = sorted(booked, key=lambda session: session["starts_at"])
    assert seen == [session["id"] for session in in_time_order]
    assert pages == 3

    _, cancelled = await scheduling.call("GET", path, params={"status": "cancelled"})
    assert [session["id"] for session in cancelled["sessions"]] == [booked[0]["id"]]
    assert cancelled["next_cursor"] is None
    _, scheduled = await scheduling.call("GET", path, params={"status": "scheduled"})
    assert len(scheduled["sessions"]) == 4


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
        ({"cursor": "MjAzMC0wMS0wMXxub3QtYW4taWQ="}, "invalid_cursor"),
        ({"limit": "0"}, None),
        ({"limit": "201"}, None),
        ({"status": "lost"}, None),
        ({"page": "2"}, None),
    ],
)
async def test_a_bad_page_request_is_a_422_problem(
    scheduling: Scheduling, params: dict[str, str], code: str | None
) -> None:
    contract_id = await scheduling.active_contract()
    async with scheduling.http.get(
        f"/contracts/{contract_id}/sessions",
        params=params,
        headers=scheduling.headers("student-1"),
    ) as response:
        assert response.status == 422
        assert response.content_type == "application/problem+json"
        problem: dict[str, Any] = await response.json(content_type=None)
    if code is not None:
        assert problem["code"] == code


async def test_past_its_allowance_of_cancellations_a_contract_takes_no_booking(
    scheduling: Scheduling,
) -> None:
    contract_id = await scheduling.active_contract(session_count=1)
    await book_and_cancel(scheduling, contract_id, 1 + ALLOWANCE)

    async with scheduling.http.post(
        f"/contracts/{contract_id}/sessions",
        json={"starts_at": in_days(1), "duration_minutes": 60},
        headers=scheduling.headers("coach-1"),
    ) as response:
        assert response.status == 409
        assert response.content_type == "application/problem+json"
        problem = await response.json(content_type=None)
    assert problem["code"] == "cancellation_limit_reached"
    assert problem["cancellation_limit"] == 1 + ALLOWANCE
    _, listed = await scheduling.call("GET", f"/contracts/{contract_id}/sessions")
    assert (listed["scheduled_count"], listed["cancelled_count"]) == (0, 1 + ALLOWANCE)


async def test_the_schedule_page_shows_sessions_to_come_first_and_the_latest_cancellations(
    scheduling: Scheduling,
) -> None:
    contract_id = await scheduling.active_contract(session_count=3)
    cancellations = CANCELLED_SHOWN + 2
    await book_and_cancel(scheduling, contract_id, cancellations)
    for day in (3, 2):
        assert (await scheduling.book(contract_id, in_days(day)))[0] == 201

    status, page = await scheduling.call("GET", f"/contracts/{contract_id}/schedule")
    assert status == 200
    upcoming, cancelled = page.index("Upcoming sessions"), page.index("Cancelled sessions")
    assert upcoming < cancelled
    assert page.index(in_days(2)[:10], upcoming) < page.index(in_days(3)[:10], upcoming) < cancelled
    assert page.count(">Cancel this session</a>") == 2  # one for each session to come
    assert page.count("You cancelled this session.") == CANCELLED_SHOWN
    assert f"The latest {CANCELLED_SHOWN} of {cancellations} cancelled sessions" in page
    assert "2 of 3 sessions scheduled" in page
