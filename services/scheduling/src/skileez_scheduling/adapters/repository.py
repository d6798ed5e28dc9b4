"""Loading and saving contracts views and sessions with SQLAlchemy Core, inside the caller's
transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from skileez_scheduling.adapters.tables import COACH_OVERLAP, contracts, sessions
from skileez_scheduling.domain.contracts import ContractStatus, ContractView
from skileez_scheduling.domain.errors import SessionOverlap
from skileez_scheduling.domain.sessions import Session, SessionStatus

EXCLUSION_VIOLATION = "23P01"

_CONTRACT_FIELDS = (
    "status",
    "student_id",
    "coach_id",
    "session_count",
    "title",
    "closed_reason",
    "closed_at",
)
_SESSION_FIELDS = (
    "contract_id",
    "student_id",
    "coach_id",
    "starts_at",
    "ends_at",
    "status",
    "booked_by",
    "created_at",
    "cancelled_at",
    "cancelled_by",
    "cancellation_reason",
)
_CANCELLATION_FIELDS = ("status", "cancelled_at", "cancelled_by", "cancellation_reason")

# Built once, executed with a parameter dict: skips SQLAlchemy's per-call construction,
# coercion and cache-key generation of the statements the contract-event consumer runs.
_LOCK_OR_CREATE_CONTRACT = (
    insert(contracts)
    .values(id=bindparam("contract_id"), status=ContractStatus.PENDING.value)
    .on_conflict_do_update(index_elements=[contracts.c.id], set_={"id": contracts.c.id})
    .returning(*contracts.c)
)
_UPDATE_CONTRACT = (
    update(contracts)
    .where(contracts.c.id == bindparam("contract_id"))
    .values(
        {
            **{field: bindparam(f"new_{field}") for field in _CONTRACT_FIELDS},
            "updated_at": func.now(),
        }
    )
)


class SchedulingRepository:
    def __init__(self, db: AsyncSession) -> None:
        self._db = db

    async def contract(self, contract_id: UUID, *, for_update: bool = False) -> ContractView | None:
        query = select(contracts).where(contracts.c.id == contract_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._db.execute(query)).mappings().first()
        return None if row is None else _contract_of(row)

    async def contract_for_event(self, contract_id: UUID) -> ContractView:
        """The view of `contract_id`, locked; a first event about it creates it (one round trip).

        The no-op DO UPDATE takes the row lock, so two events about one contract apply in turn.
        """
        result = await self._db.execute(_LOCK_OR_CREATE_CONTRACT, {"contract_id": contract_id})
        return _contract_of(result.mappings().one())

    async def save_contract(self, contract: ContractView) -> None:
        values = {f"new_{field}": getattr(contract, field) for field in _CONTRACT_FIELDS}
        await self._db.execute(_UPDATE_CONTRACT, {"contract_id": contract.id, **values})

    async def scheduled_sessions(self, contract_id: UUID) -> int:
        query = select(func.count()).where(
            sessions.c.contract_id == contract_id,
            sessions.c.status == SessionStatus.SCHEDULED.value,
        )
        return int((await self._db.execute(query)).scalar_one())

    async def add_session(self, session: Session) -> None:
        """Insert a booked session; the exclusion constraints refuse an overlapping one."""
        values = {field: getattr(session, field) for field in _SESSION_FIELDS}
        try:
            await self._db.execute(sessions.insert().values(id=session.id, **values))
        except IntegrityError as error:
            if getattr(error.orig, "sqlstate", None) != EXCLUSION_VIOLATION:
                raise
            who = "coach" if COACH_OVERLAP in str(error.orig) else "student"
            raise SessionOverlap(
                f"The {who} already has a session overlapping that time."
            ) from None

    async def session(self, session_id: UUID, *, for_update: bool = False) -> Session | None:
        query = select(sessions).where(sessions.c.id == session_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._db.execute(query)).mappings().first()
        return None if row is None else _session_of(row)

    async def sessions_of(self, contract_id: UUID) -> list[Session]:
        query = (
            select(sessions)
            .where(sessions.c.contract_id == contract_id)
            .order_by(sessions.c.starts_at, sessions.c.created_at)
        )
        return [_session_of(row) for row in (await self._db.execute(query)).mappings()]

    async def scheduled_sessions_from(self, contract_id: UUID, since: datetime) -> list[Session]:
        """The contract's scheduled sessions starting at or after `since`, locked."""
        query = (
            select(sessions)
            .where(
                sessions.c.contract_id == contract_id,
                sessions.c.status == SessionStatus.SCHEDULED.value,
                sessions.c.starts_at >= since,
            )
            .with_for_update()
        )
        return [_session_of(row) for row in (await self._db.execute(query)).mappings()]

    async def save_cancellations(self, cancelled: Sequence[Session]) -> None:
        if not cancelled:
            return
        statement = (
            update(sessions)
            .where(sessions.c.id == bindparam("session_id"))
            .values({field: bindparam(f"new_{field}") for field in _CANCELLATION_FIELDS})
        )
        await self._db.execute(
            statement,
            [
                {"session_id": s.id, **{f"new_{f}": getattr(s, f) for f in _CANCELLATION_FIELDS}}
                for s in cancelled
            ],
        )


def _contract_of(row: Any) -> ContractView:
    return ContractView(
        id=row["id"],
        status=ContractStatus(row["status"]),
        student_id=row["student_id"],
        coach_id=row["coach_id"],
        session_count=row["session_count"],
        title=row["title"],
        closed_reason=row["closed_reason"],
        closed_at=row["closed_at"],
    )


def _session_of(row: Any) -> Session:
    return Session(
        id=row["id"],
        contract_id=row["contract_id"],
        student_id=row["student_id"],
        coach_id=row["coach_id"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        booked_by=row["booked_by"],
        created_at=row["created_at"],
        status=SessionStatus(row["status"]),
        cancelled_at=row["cancelled_at"],
        cancelled_by=row["cancelled_by"],
        cancellation_reason=row["cancellation_reason"],
    )
