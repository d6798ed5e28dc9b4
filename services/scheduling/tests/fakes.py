"""In-memory stand-ins for the unit of work: what a transaction would commit, kept in dicts.

Reads hand out copies, as rows read from a database would be, so a handler's change counts
only once it is saved. The sessions' no-overlap rule, an exclusion constraint in PostgreSQL,
is checked here in memory. The events a saved session recorded go to `published`, as the
outbox would have them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from skileez_events import SessionBooked, SessionCancelled
from skileez_scheduling.domain.contracts import ContractView, SessionTally
from skileez_scheduling.domain.errors import SessionOverlap
from skileez_scheduling.domain.sessions import Session, SessionStatus
from skileez_scheduling.service_layer.integration import integration_events


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

    async def get_many(self, contract_ids: Collection[UUID]) -> dict[UUID, ContractView]:
        return {id_: replace(self.views[id_]) for id_ in contract_ids if id_ in self.views}


class FakeSessions:
    def __init__(self) -> None:
        self.rows: dict[UUID, Session] = {}
        self.published: list[SessionBooked | SessionCancelled] = []

    async def tally(self, contract_id: UUID) -> SessionTally:
        of_contract = self._of_contract(contract_id)
        scheduled = sum(1 for s in of_contract if s.status is SessionStatus.SCHEDULED)
        return SessionTally(scheduled=scheduled, cancelled=len(of_contract) - scheduled)

    async def add(self, session: Session) -> None:
        for other in self.rows.values():
            overlaps = other.starts_at < session.ends_at and session.starts_at < other.ends_at
            if other.status is not SessionStatus.SCHEDULED or not overlaps:
                continue
            if other.coach_id == session.coach_id:
                raise SessionOverlap("The coach already has a session overlapping that time.")
            if other.student_id == session.student_id:
                raise SessionOverlap("The student already has a session overlapping that time.")
        self.rows[session.id] = replace(session, events=[])
        self._publish(session)

    async def get(self, session_id: UUID, *, for_update: bool = False) -> Session | None:
        session = self.rows.get(session_id)
        return None if session is None else replace(session)

    async def page(
        self,
        contract_id: UUID,
        status: SessionStatus | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[Session]:
        found = [
            replace(s)
            for s in self._of_contract(contract_id)
            if (status is None or s.status is status)
            and (after is None or (s.starts_at, s.id) > after)
        ]
        return sorted(found, key=lambda session: (session.starts_at, session.id))[:limit]

    async def of_party(
        self, user_id: str, now: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[Session]:
        def key(session: Session) -> tuple[datetime, UUID]:
            return session.starts_at, session.id

        theirs = [replace(s) for s in self.rows.values() if user_id in (s.student_id, s.coach_id)]
        upcoming = sorted((s for s in theirs if s.starts_at > now), key=key)
        past = sorted((s for s in theirs if s.starts_at <= now), key=key, reverse=True)
        if after is not None and after[0] > now:
            upcoming = [s for s in upcoming if key(s) > after]
        elif after is not None:
            upcoming, past = [], [s for s in past if key(s) < after]
        return [*upcoming, *past][:limit]

    async def scheduled(self, contract_id: UUID) -> list[Session]:
        found = [replace(s) for s in self._scheduled(contract_id)]
        return sorted(found, key=lambda session: (session.starts_at, session.id))

    async def recently_cancelled(self, contract_id: UUID, limit: int) -> list[Session]:
        cancelled = [
            replace(s)
            for s in self._of_contract(contract_id)
            if s.status is SessionStatus.CANCELLED
        ]
        cancelled.sort(key=lambda session: (session.cancelled_at, session.id), reverse=True)
        return cancelled[:limit]

    async def scheduled_from(self, contract_id: UUID, since: datetime) -> list[Session]:
        return [replace(s) for s in self._scheduled(contract_id) if s.starts_at >= since]

    async def save_cancellations(self, cancelled: Sequence[Session]) -> None:
        for session in cancelled:
            self.rows[session.id] = replace(session, events=[])
            self._publish(session)

    def _publish(self, session: Session) -> None:
        self.published += integration_events(session, session.pull_events())

    def _of_contract(self, contract_id: UUID) -> list[Session]:
        return [session for session in self.rows.values() if session.contract_id == contract_id]

    def _scheduled(self, contract_id: UUID) -> list[Session]:
        return [
            session
            for session in self._of_contract(contract_id)
            if session.status is SessionStatus.SCHEDULED
        ]


class FakeUnitOfWork:
    def __init__(self, traceparent: str | None = None) -> None:
        self.contracts = FakeContractViews()
        self.sessions = FakeSessions()
        self.traceparent = traceparent
