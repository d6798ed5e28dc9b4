"""The schedule page's booking form and the cancellation's confirmation, as a browser meets
them: refusals shown in the form with what was entered, never problem+json."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from .conftest import Scheduling, activated, booking_form, created, in_days

pytestmark = pytest.mark.timeout(60)

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def post_form(
    scheduling: Scheduling, contract_id: uuid.UUID, form: dict[str, str], user: str = "student-1"
) -> tuple[int, str, str]:
    """The booking form posted by a browser: status, media type and page."""
    async with scheduling.http.post(
        f"/contracts/{contract_id}/sessions",
        data=form,
        headers={**scheduling.headers(user), **BROWSER},
        allow_redirects=False,
    ) as response:
        return response.status, response.content_type, await response.text()


def field_value(page: str, name: str) -> str:
    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page)
    assert found, f"no field {name}"
    return found.group(1)


async def test_a_booking_in_the_persons_time_zone_starts_at_that_instant(
    scheduling: Scheduling,
) -> None:
    contract_id = await scheduling.active_contract()
    day = (datetime.now(UTC) + timedelta(days=5)).date()
    form = {
        "start_date": day.isoformat(),
        "start_time": "09:30",
        "time_zone": "America/New_York",
        "duration_minutes": "45",
    }
    status, _, _ = await post_form(scheduling, contract_id, form)
    assert status == 303
    _, listed = await scheduling.call("GET", f"/contracts/{contract_id}/sessions")
    [session] = listed["sessions"]
    expected = datetime(day.year, day.month, day.day, 9, 30, tzinfo=ZoneInfo("America/New_York"))
    assert datetime.fromisoformat(session["starts_at"]) == expected
    assert session["duration_minutes"] == 45


async def test_an_overlap_is_shown_beside_the_time_with_the_values_kept(
    scheduling: Scheduling,
) -> None:
    contract_id = await scheduling.active_contract()
    assert (await post_form(scheduling, contract_id, booking_form(in_days(2))))[0] == 303
    overlapping = {**booking_form(in_days(2)), "start_time": "10:30", "duration_minutes": "90"}
    status, media_type, page = await post_form(scheduling, contract_id, overlapping)
    assert (status, media_type) == (409, "text/html")
    assert re.search(r'id="when-error">The (coach|student) already has a session overlapping', page)
    assert 'aria-invalid="true"' in page
    assert field_value(page, "start_date") == overlapping["start_date"]
    assert field_value(page, "start_time") == "10:30"
    assert '<option value="90" selected>' in page
    _, listed = await scheduling.call("GET", f"/contracts/{contract_id}/sessions")
    assert len(listed["sessions"]) == 1


async def test_a_past_time_and_a_typo_are_422_pages_that_say_which_field(
    scheduling: Scheduling,
) -> None:
    contract_id = await scheduling.active_contract()
    yesterday = booking_form((datetime.now(UTC) - timedelta(days=1)).isoformat())
    status, media_type, page = await post_form(scheduling, contract_id, yesterday)
    assert (status, media_type) == (422, "text/html")
    assert 'id="when-error">That time has passed' in page
    assert field_value(page, "start_date") == yesterday["start_date"]

    typo = {**booking_form(in_days(1)), "start_date": "2O30-01-01"}
    status, media_type, page = await post_form(scheduling, contract_id, typo)
    assert (status, media_type) == (422, "text/html")
    assert 'id="when-error">Enter a date, e.g. 2030-01-31.' in page
    assert field_value(page, "start_date") == "2O30-01-01"

    bad_zone = {**booking_form(in_days(1)), "time_zone": "Mars/Olympus"}
    status, _, page = await post_form(scheduling, contract_id, bad_zone)
    assert status == 422
    assert "time zone is not one we know" in page
    _, listed = await scheduling.call("GET", f"/contracts/{contract_id}/sessions")
    assert listed["sessions"] == []


async def test_a_limit_reached_is_shown_above_the_form(scheduling: Scheduling) -> None:
    contract_id = await scheduling.active_contract(session_count=1)
    assert (await post_form(scheduling, contract_id, booking_form(in_days(1))))[0] == 303
    status, _, page = await post_form(scheduling, contract_id, booking_form(in_days(2)))
    assert status == 409
    assert re.search(r'role="alert" id="booking-error">\s*<p>All 1 sessions', page)


async def test_api_clients_still_get_problem_json_for_a_form(scheduling: Scheduling) -> None:
    contract_id = await scheduling.active_contract()
    past = booking_form((datetime.now(UTC) - timedelta(days=1)).isoformat())
    async with scheduling.http.post(
        f"/contracts/{contract_id}/sessions", data=past, headers=scheduling.headers("student-1")
    ) as response:
        assert (response.status, response.content_type) == (422, "application/problem+json")
        problem = await response.json()
    assert (problem["code"], problem["field"]) == ("invalid_session_time", "starts_at")


async def test_the_page_names_the_parties_and_who_cancelled_in_plain_words(
    scheduling: Scheduling,
) -> None:
    contract_id = uuid.uuid4()
    names = {"student_name": "Ana Silva", "coach_name": "Bruno Costa"}
    await scheduling.publish(created(contract_id, **names))
    await scheduling.publish(activated(contract_id))
    await scheduling.wait_for_status(contract_id, "active")
    _, by_student = await scheduling.book(contract_id, in_days(1))
    _, by_coach = await scheduling.book(contract_id, in_days(2), user="coach-1")
    await scheduling.call("POST", f"/sessions/{by_student['id']}/cancel")
    await scheduling.call("POST", f"/sessions/{by_coach['id']}/cancel", user="coach-1")

    _, student_page = await scheduling.call("GET", f"/contracts/{contract_id}/schedule")
    assert "With your coach, Bruno Costa" in student_page
    assert "You cancelled this session." in student_page
    assert "Your coach, Bruno Costa, cancelled this session." in student_page
    _, coach_page = await scheduling.call(
        "GET", f"/contracts/{contract_id}/schedule", user="coach-1"
    )
    assert "With your student, Ana Silva" in coach_page
    assert "Your student, Ana Silva, cancelled this session." in coach_page
    assert "cancelled by the" not in coach_page


async def test_the_confirmation_of_a_cancellation_is_for_the_sessions_parties(
    scheduling: Scheduling,
) -> None:
    contract_id = await scheduling.active_contract()
    _, session = await scheduling.book(contract_id, in_days(1))
    path = f"/sessions/{session['id']}/cancel"
    status, page = await scheduling.call("GET", path, headers=BROWSER)
    assert status == 200
    assert "Cancel this session?" in page
    assert f'href="/contracts/{contract_id}/schedule">No, keep it' in page
    status, page = await scheduling.call("GET", path, user="someone-else", headers=BROWSER)
    assert status == 403
    assert "Yes, cancel it" not in page
    await scheduling.call("POST", path)
    status, page = await scheduling.call("GET", path, headers=BROWSER)
    assert status == 200
    assert "This session cannot be cancelled" in page
    assert "You cancelled this session." in page
