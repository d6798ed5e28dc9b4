"""What the schedule page says, without I/O: refusals placed beside their field, and who
cancelled a session in the reader's own words."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from skileez_scheduling.domain.contracts import ContractStatus, ContractView
from skileez_scheduling.domain.sessions import Session
from skileez_scheduling.entrypoints.schedule import (
    DURATION,
    FORM,
    WHEN,
    BookingEntry,
    cancellation_note,
    counterpart,
)
from skileez_web.problems import Problem

NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)
POSTED = {
    "start_date": "2030-01-02",
    "start_time": "10:00",
    "time_zone": "Europe/Lisbon",
    "duration_minutes": "60",
}


def contract(**names: str) -> ContractView:
    view = ContractView(uuid.uuid4(), ContractStatus.ACTIVE)
    view.record_created(
        student_id="student-1", coach_id="coach-1", session_count=4, title="Chess", **names
    )
    return view


def session() -> Session:
    return Session(
        id=uuid.uuid4(),
        contract_id=uuid.uuid4(),
        student_id="student-1",
        coach_id="coach-1",
        starts_at=NOW + timedelta(days=1),
        ends_at=NOW + timedelta(days=1, hours=1),
        booked_by="student-1",
        created_at=NOW,
    )


def test_a_domain_refusal_goes_beside_its_field_and_the_values_stay() -> None:
    past = Problem(422, "invalid_session_time", "That time has passed.", field="starts_at")
    entry = BookingEntry.refused(POSTED, past)
    assert entry.errors == {WHEN: "That time has passed."}
    assert (entry.start_date, entry.start_time, entry.time_zone, entry.duration_minutes) == (
        "2030-01-02",
        "10:00",
        "Europe/Lisbon",
        "60",
    )


def test_a_refusal_about_no_field_goes_above_the_form() -> None:
    limit = Problem(409, "session_limit_reached", "All 4 sessions are scheduled.")
    assert BookingEntry.refused(POSTED, limit).errors == {FORM: "All 4 sessions are scheduled."}


def test_invalid_fields_are_told_in_words_not_in_the_parsers() -> None:
    invalid = Problem(
        422,
        "validation_error",
        "start_date: Input should be a valid date; duration_minutes: ...",
        errors=[
            {"field": "start_date", "message": "Input should be a valid date"},
            {"field": "start_time", "message": "Input should be a valid time"},
            {"field": "duration_minutes", "message": "Input should be less than 480"},
            {"field": "surprise", "message": "Extra inputs are not permitted"},
        ],
    )
    errors = BookingEntry.refused({"start_date": "2O30-01-02"}, invalid).errors
    assert errors == {
        WHEN: "Enter a date, e.g. 2030-01-31.",
        DURATION: "Choose a duration between 15 and 480 minutes.",
        FORM: "Extra inputs are not permitted",
    }


def test_who_cancelled_is_said_as_the_reader_would_say_it() -> None:
    named = contract(student_name="Ana Silva", coach_name="Bruno Costa")
    by_coach = session()
    by_coach.cancel_by_participant("coach-1", NOW)
    assert cancellation_note(by_coach, named, "coach-1") == "You cancelled this session."
    assert (
        cancellation_note(by_coach, named, "student-1")
        == "Your coach, Bruno Costa, cancelled this session."
    )
    assert cancellation_note(by_coach, contract(), "student-1") == (
        "Your coach cancelled this session."
    )
    by_student = session()
    by_student.cancel_by_participant("student-1", NOW)
    assert cancellation_note(by_student, named, "coach-1") == (
        "Your student, Ana Silva, cancelled this session."
    )
    refunded = session()
    refunded.cancel_for_closed_contract("refunded", NOW)
    assert cancellation_note(refunded, named, "coach-1") == (
        "Cancelled with the contract (refunded)."
    )
    assert cancellation_note(session(), named, "coach-1") is None


def test_the_other_party_is_named_when_the_events_told_the_name() -> None:
    named = contract(student_name="Ana Silva", coach_name="Bruno Costa")
    assert counterpart(named, "student-1") == "With your coach, Bruno Costa"
    assert counterpart(named, "coach-1") == "With your student, Ana Silva"
    assert counterpart(contract(), "student-1") is None


def test_a_later_event_never_renames_a_party() -> None:
    view = contract(student_name="Ana Silva")
    view.record_created(
        student_id="student-1",
        coach_id="coach-1",
        session_count=4,
        title="Chess",
        student_name="Someone Else",
        coach_name="Bruno Costa",
    )
    assert (view.student_name, view.coach_name) == ("Ana Silva", "Bruno Costa")
    assert view.name_of("student-1") == "Ana Silva"
    assert view.name_of("stranger") is None
