"""`GET /sessions`: a person's own sessions across their contracts, as JSON for API clients
and as a page for browsers."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from skileez_scheduling.adapters.tables import sessions
from skileez_web.auth import Role

from .conftest import Scheduling, activated, created, in_days

pytestmark = pytest.mark.timeout(60)

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def named_contract(scheduling: Scheduling, student: str, coach: str, title: str) -> uuid.UUID:
    """An active contract whose events named its parties."""
    contract_id = uuid.uuid4()
    terms = {"student_id": student, "coach_id": coach}
    names = {"student_name": f"Student {student}", "coach_name": f"Coach {coach}"}
    await scheduling.publish(
        created(contract_id, title=title, **terms, **names), activated(contract_id, **terms)
    )
    await scheduling.wait_for_status(contract_id, "active", student)
    return contract_id


async def held_session(
    scheduling: Scheduling, contract_id: uuid.UUID, student: str, coach: str, days_ago: int
) -> uuid.UUID:
    """A session that took place `days_ago` days ago (a booking can only be in the future)."""
    session_id = uuid.uuid4()
    starts_at = datetime.now(UTC) - timedelta(days=days_ago)
    async with scheduling.engine.begin() as conn:
        await conn.execute(
            insert(sessions).values(
                id=session_id,
                contract_id=contract_id,
                student_id=student,
                coach_id=coach,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=1),
                status="scheduled",
                booked_by=student,
                created_at=starts_at - timedelta(days=7),
            )
        )
    return session_id


async def test_a_person_lists_only_their_own_sessions_to_come_first_then_past_in_pages(
    scheduling: Scheduling,
) -> None:
    chess = await named_contract(scheduling, "student-1", "coach-1", "Chess")
    go = await named_contract(scheduling, "student-1", "coach-2", "Go")
    theirs = await named_contract(scheduling, "student-2", "coach-2", "Go for two")
    booked = {}
    for name, contract_id, days in (("later", chess, 3), ("soon", go, 1), ("chess", chess, 2)):
        status, body = await scheduling.book(contract_id, in_days(days))
        assert status == 201, body
        booked[name] = body["id"]
    status, _ = await scheduling.book(theirs, in_days(1, hour=14), user="student-2")
    assert status == 201
    long_ago = await held_session(scheduling, chess, "student-1", "coach-1", days_ago=9)
    lately = await held_session(scheduling, go, "student-1", "coach-2", days_ago=2)
    in_order = [booked["soon"], booked["chess"], booked["later"], str(lately), str(long_ago)]

    status, body = await scheduling.call("GET", "/sessions")
    assert status == 200
    assert [s["id"] for s in body["sessions"]] == in_order
    assert body["next_cursor"] is None
    first = body["sessions"][0]
    assert (first["contract_title"], first["coach_name"]) == ("Go", "Coach coach-2")

    for limit in (1, 3, 4):
        seen, cursor = [], None
        while True:
            params = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
            status, page = await scheduling.call("GET", "/sessions", params=params)
            assert status == 200
            assert len(page["sessions"]) <= limit
            seen += [s["id"] for s in page["sessions"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == in_order

    status, body = await scheduling.call("GET", "/sessions", user="coach-2", role=Role.COACH)
    assert status == 200
    assert [s["student_id"] for s in body["sessions"]] == ["student-1", "student-2", "student-1"]
    assert {s["contract_id"] for s in body["sessions"]} == {str(go), str(theirs)}
    status, body = await scheduling.call("GET", "/sessions", user="nobody")
    assert (status, body["sessions"]) == (200, [])


async def test_a_bad_cursor_or_no_sign_in_is_refused(scheduling: Scheduling) -> None:
    status, body = await scheduling.call("GET", "/sessions", params={"cursor": "not-ours"})
    assert (status, body["code"]) == (422, "invalid_cursor")
    status, _ = await scheduling.call("GET", "/sessions", user=None)
    assert status == 401


async def test_a_browser_gets_the_sessions_page_with_its_header_link_current(
    scheduling: Scheduling,
) -> None:
    chess = await named_contract(scheduling, "student-1", "coach-1", "Chess")
    status, _ = await scheduling.book(chess, in_days(2))
    assert status == 201
    await held_session(scheduling, chess, "student-1", "coach-1", days_ago=3)
    status, page = await scheduling.call("GET", "/sessions", headers=BROWSER)
    assert status == 200
    assert "<h1>Your sessions</h1>" in page
    assert re.search(r'<a href="[^"]*/sessions" aria-current="page">Sessions</a>', page)
    upcoming, past = page.split("<h2>Past sessions</h2>")
    assert "<h2>Upcoming sessions</h2>" in upcoming
    for part in (upcoming, past):
        assert f'<a href="/contracts/{chess}/schedule">Chess</a>' in part
        assert "With your coach, Coach coach-1" in part
        assert "<time datetime=" in part
        assert "data-local" in part

    status, page = await scheduling.call(
        "GET", "/sessions", user="coach-1", role=Role.COACH, headers=BROWSER
    )
    assert status == 200
    assert "With your student, Student student-1" in page
