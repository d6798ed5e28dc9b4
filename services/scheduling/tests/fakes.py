"""In-memory stand-ins for the unit of work: what a transaction would commit, kept in dicts.

Reads hand out copies, as rows read from a database would be, so a handler's change counts
only once it is saved. The sessions' no-overlap rule, an exclusion constraint in PostgreSQL,
is checked here in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from skileez_scheduling.domain.contracts import ContractView
from skileez_scheduling.domain.errors import SessionOverlap
from skileez_scheduling.domain.sessions import Session, SessionStatus


class FakeContractViews:
    def __init__(self) -> None:
        self.views: dict[UUID, ContractView] = {}

    async def get(self, contract_id: UUID, *, for_update: bool = False) -> ContractView | None:
        view = self.views.get(contract_id)
        return None if view is None else replace(view)

    async def for_event(self, contract_id: UUID) -> ContractView:
        return replace(self.views.setdefault(contract_id, ContractView(contract_id)))

    def save(self, contract: ContractView) -> None:
        self.views[contract.id] = replace(contract)


class FakeSessions:
    def __init__(self) -> None:
        self.rows: dict[UUID, Session] = {}

    async def count_scheduled(self, contract_id: UUID) -> int:
        return len(self._scheduled(contract_id))

    async def add(self, session: Session) -> None:
        for other in self.rows.values():
            overlaps = other.starts_at < session.ends_at and session.starts_at < other.ends_at
            if other.status is not SessionStatus.SCHEDULED or not overlaps:
                continue
            if other.coach_id == session.coach_id:
                raise SessionOverlap("The coach already has a session overlapping that time.")
            if other.student_id == session.student_id:
                raise SessionOverlap("The student already has a session overlapping that time.")
        self.rows[session.id] = replace(session)

    async def get(self, session_id: UUID, *, for_update: bool = False) -> Session | None:
        session = self.rows.get(session_id)
        return None if session is None else replace(session)

    async def of_contract(self, contract_id: UUID) -> list[Session]:
        found = [replace(s) for s in self.rows.values() if s.contract_id == contract_id]
        return sorted(found, key=lambda session: (session.starts_at, session.created_at))

    async def scheduled_from(self, contract_id: UUID, since: datetime) -> list[Session]:
        return [replace(s) for s in self._scheduled(contract_id) if s.starts_at >= since]

    async def save_cancellations(self, cancelled: Sequence[Session]) -> None:
        for session in cancelled:
            self.rows[session.id] = replace(session)

    def _scheduled(self, contract_id: UUID) -> list[Session]:
        return [
            session
            for session in self.rows.values()
            if session.contract_id == contract_id and session.status is SessionStatus.SCHEDULED
        ]


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.contracts = FakeContractViews()
        self.sessions = FakeSessions()
