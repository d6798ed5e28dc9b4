"""The world the fuzzer works in: the running system, its parties, and the ids of their objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from skileez_events.testing import wait_until
from skileez_system.client import (
    Actor,
    Answer,
    Emulator,
    Parties,
    paid_contract,
    pending_contract,
    start_checkout,
)
from skileez_system.system import System
from skileez_web.auth import Role


@dataclass(frozen=True)
class World:
    """The system and what lives in it: its parties and the ids of their objects, by kind."""

    system: System
    parties: Parties
    ids: dict[str, list[str]]

    def caller(self, role: Role) -> Actor:
        return {
            Role.STUDENT: self.parties.student,
            Role.COACH: self.parties.coach,
            Role.ADMIN: self.parties.admin,
        }[role]


async def populate(parties: Parties, emulator: Emulator) -> dict[str, list[str]]:
    """A paid contract with a booked session, a pending one being paid, an accepted proposal
    without its contract yet and an open one: each kind of id the routes take."""
    paid = await paid_contract(parties, emulator)
    contract_id = paid.contract["id"]
    starts_at = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0).isoformat()

    async def book() -> Answer | None:
        answer = await parties.student.call(
            "POST",
            "scheduling",
            f"/contracts/{contract_id}/sessions",
            {"starts_at": starts_at, "duration_minutes": 60},
        )
        return answer if answer.status == 201 else None

    booked = await wait_until(book, timeout=30)  # once scheduling has seen the contract active
    pending = await pending_contract(parties)
    paying = await start_checkout(parties.student, pending["id"])
    proposals = []
    for accept in (True, False):
        proposal = await parties.coach.call(
            "POST",
            "contracts",
            "/proposals",
            {
                "student_id": parties.student.user_id,
                "title": "Openings",
                "session_count": 2,
                "price_per_session": 3_000,
                "currency": "eur",
            },
        )
        assert proposal.status == 201, proposal.body
        proposals.append(proposal.body["id"])
        if accept:
            accepted = await parties.student.call(
                "POST", "contracts", f"/proposals/{proposal.body['id']}/accept"
            )
            assert accepted.status == 200, accepted.body
    return {
        "contract": [contract_id, pending["id"]],
        "proposal": [paid.contract["proposal_id"], *proposals],
        "payment": [paid.checkout["payment_id"], paying["payment_id"]],
        "session": [booked.body["id"]],
        "user": [parties.student.user_id, parties.coach.user_id],
    }
