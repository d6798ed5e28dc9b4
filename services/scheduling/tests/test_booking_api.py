"""Booking and cancelling sessions over HTTP, against the real service, database and broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from yarl import URL

from skileez_scheduling.adapters.tables import sessions
from skileez_scheduling.settings import SchedulingSettings

from .conftest import (
    PAYMENTS_URL,
    Scheduling,
    booking_form,
    cancelled,
    created,
    in_days,
    reinstated,
    suspended,
)

pytestmark = pytest.mark.timeout(60)

SCHEDULING_URL = SchedulingSettings.model_fields["scheduling_url"].default
"""Where browsers reach the service under test (its settings' default public URL)."""


async def session_rows(scheduling: Scheduling) -> int:
    async with scheduling.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(sessions))).scalar_one())


async def test_the_student_and_the_coach_of_an_active_contract_book_sessions(
    scheduling: Scheduling,
) -> None:
    contract_id = await scheduling.active_contract()
    status, by_student = await scheduling.book(contract_id, in_days(1), 60, user="student-1")
    assert status == 201, by_student
    status, by_coach = await scheduling.book(contract_id, in_days(2), 90, user="coach-1")
    assert status == 201, by_coach
    assert by_student["status"] == "scheduled"
    assert by_student["booked_by"] == "student-1"
    assert by_coach["booked_by"] == "coach-1"
    assert by_coach["duration_minutes"] == 90
    assert datetime.fromisoformat(by_student["starts_at"]) == datetime.fromisoformat(in_days(1))
    assert datetime.fromisoformat(by_coach["ends_at"]) - datetime.fromisoformat(
        by_coach["starts_at"]
    ) == timedelta(minutes=90)

    status, listed = await scheduling.call("GET", f"/contracts/{contract_id}/sessions")
    assert status == 200
    assert listed["contract_status"] == "active"
    assert listed["scheduled_count"] == 2
    assert [s["id"] for s in listed["sessions"]] == [by_student["id"], by_coach["id"]]
    status, one = await scheduling.call("GET", f"/sessions/{by_coach['id']}", user="student-1")
    assert (status, one) == (200, by_coach)


async def test_created_session_has_a_location(scheduling: Scheduling) -> None:
    contract_id = await scheduling.active_contract()
    async with scheduling.http.post(
        f"/contracts/{contract_id}/sessions",
        json={"starts_at": in_days(1), "duration_minutes": 45},
        headers=scheduling.headers("student-1"),
    ) as response:
        body = await response.json()
        assert response.status == 201
        assert response.headers["Location"] == f"/sessions/{body['id']}"


async def test_pending_contract_answers_402_with_the_payment_url(scheduling: Scheduling) -> None:
    contract_id = uuid.uuid4()
    await scheduling.publish(created(contract_id))
    await scheduling.wait_for_status(contract_id, "pending")
    status, problem = await scheduling.book(contract_id, in_days(1))
    assert status == 402
    assert problem["code"] == "payment_required"
    assert problem["payment_url"] == f"{PAYMENTS_URL}/contracts/{contract_id}/pay"
    assert await session_rows(scheduling) == 0


async def test_a_browser_booking_on_a_pending_contract_is_told_where_to_pay(
    scheduling: Scheduling,
) -> None:
    contract_id = uuid.uuid4()
    await scheduling.publish(created(contract_id))
    await scheduling.wait_for_status(contract_id, "pending")
    async with scheduling.http.post(
        f"/contracts/{contract_id}/sessions",
        data=booking_form(in_days(1)),
        headers={**scheduling.headers("student-1"), "Accept": "text/html"},
        allow_redirects=False,
    ) as response:
        assert (response.status, response.content_type) == (402, "text/html")
        page = await response.text()
        assert "must be paid before sessions can be scheduled" in page
        assert f'href="{PAYMENTS_URL}/contracts/{contract_id}/pay"' in page
    assert await session_rows(scheduling) == 0


async def test_a_browser_booking_form_goes_back_to_the_schedule_page(
    scheduling: Scheduling,
) -> None:
    contract_id = await scheduling.active_contract()
    async with scheduling.http.post(
        f"/contracts/{contract_id}/sessions",
        data=booking_form(in_days(1)),
        headers={**scheduling.headers("student-1"), "Accept": "text/html"},
        allow_redirects=False,
    ) as response:
        assert response.status == 303
        assert response.headers["Location"] == f"/contracts/{contract_id}/schedule"
    assert await session_rows(scheduling) == 1


async def test_a_contract_never_seen_is_404(scheduling: Scheduling) -> None:
    status, problem = await scheduling.book(uuid.uuid4(), in_days(1))
    assert (status, problem["code"]) == (404, "not_found")
    status, problem = await scheduling.call("GET", f"/contracts/{uuid.uuid4()}/sessions")
    assert (status, problem["code"]) == (404, "not_found")
    status, problem = await scheduling.call("POST", "/contracts/not-a-uuid/sessions", json={})
    assert (status, problem["code"]) == (404, "not_found")


async def test_a_contract_only_heard_of_through_its_cancellation_is_404(
    scheduling: Scheduling,
) -> None:
    contract_id = uuid.uuid4()
    await scheduling.publish(cancelled(contract_id))
    other = await scheduling.active_contract()  # the consumer has moved past the cancellation
    assert other
    status, problem = await scheduling.book(contract_id, in_days(1))
    assert (status, problem["code"]) == (404, "not_found")


async def test_only_the_contract_parties_may_book_or_look(scheduling: Scheduling) -> None:
    contract_id = await scheduling.active_contract()
    status, problem = await scheduling.book(contract_id, in_days(1), user="someone-else")
    assert (status, problem["code"]) == (403, "forbidden")
    status, problem = await scheduling.call(
        "GET", f"/contracts/{contract_id}/sessions", user="someone-else"
    )
    assert (status, problem["code"]) == (403, "forbidden")
    status, problem = await scheduling.call(
        "POST",
        f"/contracts/{contract_id}/sessions",
        user=None,
        json={"starts_at": in_days(1), "duration_minutes": 60},
    )
    assert (status, problem["code"]) == (401, "unauthenticated")
    assert await session_rows(scheduling) == 0


async def test_a_closed_contract_refuses_bookings(scheduling: Scheduling) -> None:
    contract_id = await scheduling.active_contract()
    await scheduling.publish(cancelled(contract_id))
    await scheduling.wait_for_status(contract_id, "closed")
    status, problem = await scheduling.book(contract_id, in_days(1))
    assert (status, problem["code"]) == (409, "contract_closed")
    assert await session_rows(scheduling) == 0


async def test_a_suspended_contract_answers_409_until_it_is_reinstated(
    scheduling: Scheduling,
) -> None:
    contract_id = await scheduling.active_contract()
    status, kept = await scheduling.book(contract_id, in_days(1))
    assert status == 201

    await scheduling.publish(suspended(contract_id, reason="payment disputed"))
    await scheduling.wait_for_status(contract_id, "suspended")
    status, problem = await scheduling.book(contract_id, in_days(2), user="coach-1")
    assert (status, problem["code"], problem["status"]) == (409, "contract_suspended", 409)
    assert "suspended (payment disputed)" in problem["detail"]
    assert "until it is reinstated" in problem["detail"]
    assert await session_rows(scheduling) == 1
    status, listed = await scheduling.call("GET", f"/contracts/{contract_id}/sessions")
    assert (listed["contract_status"], listed["suspension_reason"]) == (
        "suspended",
        "payment disputed",
    )
    assert [(s["id"], s["status"]) for s in listed["sessions"]] == [(kept["id"], "scheduled")]

    # The schedule page says so, and offers no booking form.
    status, page = await scheduling.call("GET", f"/contracts/{contract_id}/schedule")
    assert status == 200
    assert "This contract is suspended (payment disputed)" in page
    assert "Book a session" not in page
    # A browser form that still gets through is answered with a page saying why.
    browser = {**scheduling.headers("student-1"), "Accept": "text/html"}
    form = booking_form(in_days(3))
    async with scheduling.http.post(
        f"/contracts/{contract_id}/sessions", data=form, headers=browser, allow_redirects=False
    ) as answer:
        assert answer.status == 409
        assert "until it is reinstated" in await answer.text()

    await scheduling.publish(reinstated(contract_id))
    await scheduling.wait_for_status(contract_id, "active")
    status, listed = await scheduling.call("GET", f"/contracts/{contract_id}/sessions")
    assert listed["suspension_reason"] is None
    assert (await scheduling.book(contract_id, in_days(2), user="coach-1"))[0] == 201
    status, page = await scheduling.call("GET", f"/contracts/{contract_id}/schedule")
    assert "Book a session" in page
    assert "suspended" not in page


async def test_never_more_scheduled_sessions_than_the_contract_has(
    scheduling: Scheduling,
) -> None:
    contract_id = await scheduling.active_contract(session_count=2)
    assert (await scheduling.book(contract_id, in_days(1)))[0] == 201
    assert (await scheduling.book(contract_id, in_days(2)))[0] == 201
    status, problem = await scheduling.book(contract_id, in_days(3))
    assert (status, problem["code"]) == (409, "session_limit_reached")
    assert await session_rows(scheduling) == 2


async def test_a_coach_cannot_be_booked_twice_at_once_across_contracts(
    scheduling: Scheduling,
) -> None:
    first = await scheduling.active_contract(student="student-a", coach="coach-x")
    second = await scheduling.active_contract(student="student-b", coach="coach-x")
    assert (await scheduling.book(first, in_days(1, hour=10), 60, user="student-a"))[0] == 201
    overlapping = in_days(1, hour=10).replace("T10:00", "T10:30")
    status, problem = await scheduling.book(second, overlapping, 60, user="student-b")
    assert (status, problem["code"]) == (409, "overlap")
    assert "coach" in problem["detail"]
    # Back to back is not an overlap: sessions are half-open intervals.
    status, _ = await scheduling.book(second, in_days(1, hour=11), 60, user="student-b")
    assert status == 201


async def test_a_student_cannot_be_in_two_sessions_at_once(scheduling: Scheduling) -> None:
    first = await scheduling.active_contract(student="student-s", coach="coach-a")
    second = await scheduling.active_contract(student="student-s", coach="coach-b")
    assert (await scheduling.book(first, in_days(1), 120, user="student-s"))[0] == 201
    status, problem = await scheduling.book(second, in_days(1), 30, user="coach-b")
    assert (status, problem["code"]) == (409, "overlap")
    assert "student" in problem["detail"]


def _past() -> str:
    return (datetime.now(UTC) - timedelta(minutes=1)).isoformat()


def _far_future() -> str:
    return (datetime.now(UTC) + timedelta(days=800)).isoformat()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(
            {"starts_at": _past(), "duration_minutes": 60}, "invalid_session_time", id="past"
        ),
        pytest.param(
            {"starts_at": "2031-03-01T10:00:00", "duration_minutes": 60},
            "validation_error",
            id="naive",
        ),
        pytest.param(
            {"starts_at": _far_future(), "duration_minutes": 60},
            "invalid_session_time",
            id="too-far-ahead",
        ),
        pytest.param(
            {"starts_at": "9999-12-31T23:30:00+00:00", "duration_minutes": 60},
            "invalid_session_time",
            id="end-of-time",
        ),
        pytest.param(
            {"starts_at": "tomorrow", "duration_minutes": 60}, "validation_error", id="not-a-time"
        ),
        pytest.param({"starts_at": "+", "duration_minutes": 0}, "validation_error", id="zero"),
        pytest.param({"duration_minutes": -30}, "validation_error", id="negative"),
        pytest.param({"duration_minutes": 14}, "validation_error", id="too-short"),
        pytest.param({"duration_minutes": 481}, "validation_error", id="too-long"),
        pytest.param({"duration_minutes": 60.5}, "validation_error", id="fractional"),
        pytest.param({"duration_minutes": 10**40}, "validation_error", id="huge"),
        pytest.param({"duration_minutes": "an hour"}, "validation_error", id="text"),
        pytest.param({"duration_minutes": None}, "validation_error", id="null"),
        pytest.param({"starts_at": None}, "validation_error", id="no-start"),
        pytest.param({"room": "blue"}, "validation_error", id="unknown-field"),
    ],
)
async def test_bad_times_and_durations_are_422_and_change_nothing(
    scheduling: Scheduling, body: dict[str, Any], code: str
) -> None:
    contract_id = await scheduling.active_contract()
    payload = {"starts_at": in_days(1), "duration_minutes": 60, **body}
    if payload["starts_at"] == "+":
        payload["starts_at"] = in_days(1)
    status, problem = await scheduling.call(
        "POST", f"/contracts/{contract_id}/sessions", json=payload
    )
    assert (status, problem["code"]) == (422, code), problem
    assert problem["detail"]
    assert await session_rows(scheduling) == 0


async def test_malformed_json_is_400(scheduling: Scheduling) -> None:
    contract_id = await scheduling.active_contract()
    status, problem = await scheduling.call(
        "POST",
        f"/contracts/{contract_id}/sessions",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert (status, problem["code"]) == (400, "malformed_json")
    assert await session_rows(scheduling) == 0


async def test_cancelling_a_session_frees_its_slot(scheduling: Scheduling) -> None:
    contract_id = await scheduling.active_contract(session_count=1)
    status, session = await scheduling.book(contract_id, in_days(1))
    assert status == 201
    status, problem = await scheduling.book(contract_id, in_days(2))
    assert (status, problem["code"]) == (409, "session_limit_reached")

    status, cancelled_session = await scheduling.call(
        "POST", f"/sessions/{session['id']}/cancel", user="coach-1"
    )
    assert status == 200
    assert cancelled_session["status"] == "cancelled"
    assert cancelled_session["cancelled_by"] == "coach-1"
    assert cancelled_session["cancellation_reason"] == "cancelled by the coach"

    # Both the session count and the time are free again.
    status, rebooked = await scheduling.book(contract_id, in_days(1))
    assert status == 201, rebooked
    status, listed = await scheduling.call("GET", f"/contracts/{contract_id}/sessions")
    # At one start time, by id: the cancelled session and the new one in either order.
    assert sorted(s["status"] for s in listed["sessions"]) == ["cancelled", "scheduled"]
    assert (listed["scheduled_count"], listed["cancelled_count"]) == (1, 1)


async def test_cancelling_is_for_participants_and_happens_once(scheduling: Scheduling) -> None:
    contract_id = await scheduling.active_contract()
    _, session = await scheduling.book(contract_id, in_days(1))
    path = f"/sessions/{session['id']}/cancel"
    status, problem = await scheduling.call("POST", path, user="someone-else")
    assert (status, problem["code"]) == (403, "forbidden")
    assert (await scheduling.call("POST", path))[0] == 200
    status, problem = await scheduling.call("POST", path)
    assert (status, problem["code"]) == (409, "session_already_cancelled")
    status, problem = await scheduling.call("POST", f"/sessions/{uuid.uuid4()}/cancel")
    assert (status, problem["code"]) == (404, "not_found")
    status, problem = await scheduling.call("GET", f"/sessions/{session['id']}", user="other")
    assert (status, problem["code"]) == (403, "forbidden")


async def test_the_schedule_page_lists_sessions_and_offers_a_booking_form(
    scheduling: Scheduling,
) -> None:
    contract_id = await scheduling.active_contract()
    _, session = await scheduling.book(contract_id, in_days(1))
    await scheduling.call("POST", f"/sessions/{session['id']}/cancel")
    await scheduling.book(contract_id, in_days(2))
    status, page = await scheduling.call("GET", f"/contracts/{contract_id}/schedule")
    assert status == 200
    assert "Chess openings" in page
    assert "You cancelled this session." in page
    assert f'action="/contracts/{contract_id}/sessions"' in page
    for field in ("start_date", "start_time", "time_zone", "duration_minutes"):
        assert f'name="{field}"' in page


async def test_the_schedule_page_of_a_pending_contract_links_to_payment(
    scheduling: Scheduling,
) -> None:
    contract_id = uuid.uuid4()
    await scheduling.publish(created(contract_id, title="<b>Go</b>"))
    await scheduling.wait_for_status(contract_id, "pending")
    status, page = await scheduling.call("GET", f"/contracts/{contract_id}/schedule")
    assert status == 200
    assert f"{PAYMENTS_URL}/contracts/{contract_id}/pay" in page
    assert "&lt;b&gt;Go&lt;/b&gt;" in page
    assert "Book a session" not in page


async def test_a_signed_in_browser_uses_the_page_to_cancel(scheduling: Scheduling) -> None:
    contract_id = await scheduling.active_contract()
    _, session = await scheduling.book(contract_id, in_days(1))
    page = f"/contracts/{contract_id}/schedule"
    cancel_path = f"/sessions/{session['id']}/cancel"
    async with scheduling.http.post(
        "/auth/codes", json={"next": page}, headers=scheduling.headers("coach-1")
    ) as response:
        assert response.status == 201
        link = URL((await response.json())["url"])
    assert str(link.origin()) == SCHEDULING_URL
    own_page = {"Accept": "text/html", "Origin": SCHEDULING_URL}
    async with scheduling.http.get(link.path_qs, headers=own_page) as response:
        assert response.status == 200
        assert "Continue as coach-1" in await response.text()
    async with scheduling.http.post(
        "/auth/session",
        data={"code": link.query["code"], "next": link.query["next"]},
        headers=own_page,
        allow_redirects=False,
    ) as response:
        assert response.status == 303
        assert response.headers["Location"] == page
        cookie = response.cookies["skileez_token"]
    browser = {**own_page, "Cookie": f"skileez_token={cookie.value}"}
    async with scheduling.http.get(page, headers=browser) as response:
        assert response.status == 200
        assert f'href="{cancel_path}"' in await response.text()
    # The schedule's link asks first; nothing is cancelled until the answer is posted.
    async with scheduling.http.get(cancel_path, headers=browser) as response:
        assert response.status == 200
        confirmation = await response.text()
        assert "Cancel this session?" in confirmation
        assert f'action="{cancel_path}"' in confirmation
        assert "Yes, cancel it" in confirmation
    _, listed = await scheduling.call("GET", f"/contracts/{contract_id}/sessions")
    assert listed["sessions"][0]["status"] == "scheduled"
    async with scheduling.http.post(cancel_path, headers=browser, allow_redirects=False) as answer:
        assert answer.status == 303
        assert answer.headers["Location"] == page
    _, listed = await scheduling.call("GET", f"/contracts/{contract_id}/sessions")
    assert listed["sessions"][0]["cancelled_by"] == "coach-1"
