"""Rules that must hold under concurrent requests: the session limit and no overlaps."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from .conftest import Scheduling, in_days

pytestmark = pytest.mark.timeout(120)


async def test_twenty_concurrent_bookings_for_the_last_free_session_give_exactly_one(
    scheduling: Scheduling,
) -> None:
    contract_id = await scheduling.active_contract(session_count=3)
    for day in (1, 2):
        assert (await scheduling.book(contract_id, in_days(day)))[0] == 201
    # Twenty different, non-overlapping times: only the session count can refuse them.
    results = await asyncio.gather(
        *(
            scheduling.book(contract_id, in_days(10 + i), user=("student-1", "coach-1")[i % 2])
            for i in range(20)
        )
    )
    outcomes = Counter(
        (status, body["code"] if status != 201 else "created") for status, body in results
    )
    assert outcomes == {(201, "created"): 1, (409, "session_limit_reached"): 19}
    _, listed = await scheduling.call("GET", f"/contracts/{contract_id}/sessions")
    assert listed["scheduled_count"] == 3


async def test_concurrent_overlapping_bookings_for_one_coach_give_exactly_one(
    scheduling: Scheduling,
) -> None:
    # Twenty students, each with their own contract with the same coach: no contract lock is
    # shared, so only the database's exclusion constraint stands between them.
    students = [f"student-{i}" for i in range(20)]
    contracts = await asyncio.gather(
        *(scheduling.active_contract(student=s, coach="coach-busy") for s in students)
    )
    start = in_days(3, hour=9)
    results = await asyncio.gather(
        *(
            scheduling.book(contract_id, start.replace("T09:00", f"T09:{i:02d}"), 60, user=s)
            for i, (contract_id, s) in enumerate(zip(contracts, students, strict=True))
        )
    )
    outcomes = Counter(
        (status, body["code"] if status != 201 else "created") for status, body in results
    )
    assert outcomes == {(201, "created"): 1, (409, "overlap"): 19}
