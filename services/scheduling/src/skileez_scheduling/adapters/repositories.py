"""Contract views and sessions loaded and saved with asyncpg, inside the unit of work's
transaction.

Plain SQL on asyncpg's prepared statements (cached per connection): the contract-event consumer
runs these on every activation (bench/README.md). Column names come from `adapters.tables`, the
schema Alembic migrates: no value is ever formatted into SQL, only those names and the constant
statuses of the domain.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from skileez_db.connections import identity_map
from skileez_db.statements import (
    StagedUpdate,
    entity_of,
    insert_sql,
    select_sql,
    update_sql,
    values_of,
)
from skileez_scheduling.adapters.tables import COACH_OVERLAP, contracts, sessions
from skileez_scheduling.domain.contracts import ContractStatus, ContractView, SessionTally
from skileez_scheduling.domain.errors import SessionOverlap
from skileez_scheduling.domain.sessions import Session, SessionStatus

_SAVED_CONTRACT = (
    "status",
    "student_id",
    "coach_id",
    "session_count",
    "title",
    "student_name",
    "coach_name",
    "closed_reason",
    "closed_at",
    "suspended_at",
    "suspension_reason",
    "reinstated_at",
    "activation_traceparent",
)
"""The columns the contract events change (and `updated_at`, set to the time of the save)."""
_CANCELLATION = ("status", "cancelled_at", "cancelled_by", "cancellation_reason")
"""The columns a cancellation changes."""

_CONTRACT_NAMES = [column.name for column in contracts.c if column.name != "updated_at"]
_CONTRACT_COLUMNS = ", ".join(_CONTRACT_NAMES)
_SESSION_NAMES = [column.name for column in sessions.c]

_SELECT_CONTRACT = f"{select_sql(contracts, _CONTRACT_NAMES)} WHERE id = $1"
_LOCK_OR_CREATE_CONTRACTS = (
    f"INSERT INTO contracts (id, status) SELECT id, '{ContractStatus.PENDING.value}'"
    " FROM unnest($1::uuid[]) AS ahead (id) ORDER BY id"
    " ON CONFLICT (id) DO UPDATE SET id = contracts.id"
    f" RETURNING {_CONTRACT_COLUMNS}"
)
"""The no-op DO UPDATE takes the row lock; rows are inserted or locked in the order of their
ids. The ids must be distinct (DO UPDATE may not touch a row twice in one statement)."""
_CONTRACT_CHANGES = StagedUpdate(contracts, [*_SAVED_CONTRACT, "updated_at"])
_SCHEDULED = f"status = '{SessionStatus.SCHEDULED.value}'"
"""Inline, not a parameter: a constant of the domain (and the exclusion constraints' own
predicate)."""
_TALLY = (
    f"SELECT count(*) FILTER (WHERE {_SCHEDULED}) AS scheduled,"
    f" count(*) FILTER (WHERE status = '{SessionStatus.CANCELLED.value}') AS cancelled"
    " FROM sessions WHERE contract_id = $1"
)
_INSERT_SESSION = insert_sql(sessions, _SESSION_NAMES)
_SELECT_SESSIONS = select_sql(sessions, _SESSION_NAMES)
_SELECT_SESSION = f"{_SELECT_SESSIONS} WHERE id = $1"
_PAGE = (
    f"{_SELECT_SESSIONS} WHERE contract_id = $1 AND ($2::text IS NULL OR status = $2)"
    " AND ($3::timestamptz IS NULL OR (starts_at, id) > ($3, $4::uuid))"
    " ORDER BY starts_at, id LIMIT $5"
)
_OF_PARTY = f"{_SELECT_SESSIONS} WHERE (student_id = $1 OR coach_id = $1)"
_UPCOMING_OF_PARTY = (
    f"{_OF_PARTY} AND starts_at > $2"
    " AND ($3::timestamptz IS NULL OR (starts_at, id) > ($3, $4::uuid))"
    " ORDER BY starts_at, id LIMIT $5"
)
_PAST_OF_PARTY = (
    f"{_OF_PARTY} AND starts_at <= $2"
    " AND ($3::timestamptz IS NULL OR (starts_at, id) < ($3, $4::uuid))"
    " ORDER BY starts_at DESC, id DESC LIMIT $5"
)
_SELECT_CONTRACTS = f"{select_sql(contracts, _CONTRACT_NAMES)} WHERE id = ANY($1::uuid[])"
_SCHEDULED_OF = f"{_SELECT_SESSIONS} WHERE contract_id = $1 AND {_SCHEDULED} ORDER BY starts_at, id"
_RECENTLY_CANCELLED = (
    f"{_SELECT_SESSIONS} WHERE contract_id = $1 AND status = '{SessionStatus.CANCELLED.value}'"
    " ORDER BY cancelled_at DESC, id DESC LIMIT $2"
)
_SCHEDULED_SESSIONS_FROM = (
    f"{_SELECT_SESSIONS} WHERE contract_id = $1 AND {_SCHEDULED} AND starts_at >= $2 FOR UPDATE"
)
_SAVE_CANCELLATION = update_sql(sessions, _CANCELLATION)


class ContractViewRepository:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def get(self, contract_id: UUID, *, for_update: bool = False) -> ContractView | None:
        query = f"{_SELECT_CONTRACT} FOR UPDATE" if for_update else _SELECT_CONTRACT
        row = await self._connection.fetchrow(query, contract_id)
        return None if row is None else _contract_of(row)

    async def for_event(self, contract_id: UUID) -> ContractView:
        """The view of `contract_id`, locked (so two events about one contract apply in turn);
        a first event about it creates it. The transaction's one object for it (its identity
        map): found there if `lock_or_create` took it ahead."""
        kept = identity_map(self._connection)
        contract = kept.get(ContractView, contract_id)
        if contract is None:
            await self.lock_or_create([contract_id])
            contract = kept.get(ContractView, contract_id)
            assert contract is not None
        return contract

    async def lock_or_create(self, contract_ids: Collection[UUID]) -> None:
        """Lock the views of these contracts, creating those not seen yet, in one statement
        and in the order of their ids; `for_event` then finds them kept."""
        kept = identity_map(self._connection)
        rows = await self._connection.fetch(_LOCK_OR_CREATE_CONTRACTS, sorted(set(contract_ids)))
        for row in rows:
            if kept.get(ContractView, row["id"]) is None:
                kept.add(row["id"], _contract_of(row))

    async def get_many(self, contract_ids: Collection[UUID]) -> dict[UUID, ContractView]:
        rows = await self._connection.fetch(_SELECT_CONTRACTS, list(set(contract_ids)))
        return {row["id"]: _contract_of(row) for row in rows}

    def save(self, contract: ContractView) -> None:
        """Staged: written with the transaction's other view changes just before it commits.
        Only for the view `for_event` keeps (SQL in the same transaction would not see the
        change)."""
        values = [*values_of(contract, _SAVED_CONTRACT), datetime.now(UTC)]
        _CONTRACT_CHANGES.save(self._connection, contract.id, values)


class SessionRepository:
    def __init__(self, connection: asyncpg.Connection, publish: Callable[[Session], None]) -> None:
        """`publish` stages the events a saved session recorded, in the same transaction."""
        self._connection = connection
        self._publish = publish

    async def tally(self, contract_id: UUID) -> SessionTally:
        row = await self._connection.fetchrow(_TALLY, contract_id)
        return SessionTally(scheduled=row["scheduled"], cancelled=row["cancelled"])

    async def add(self, session: Session) -> None:
        """Insert a booked session; the exclusion constraints refuse an overlapping one."""
        try:
            await self._connection.execute(_INSERT_SESSION, *values_of(session, _SESSION_NAMES))
        except asyncpg.exceptions.ExclusionViolationError as error:
            who = "coach" if error.constraint_name == COACH_OVERLAP else "student"
            raise SessionOverlap(
                f"The {who} already has a session overlapping that time: choose another time.",
                field="starts_at",
            ) from None
        self._publish(session)

    async def get(self, session_id: UUID, *, for_update: bool = False) -> Session | None:
        query = f"{_SELECT_SESSION} FOR UPDATE" if for_update else _SELECT_SESSION
        row = await self._connection.fetchrow(query, session_id)
        return None if row is None else _session_of(row)

    async def page(
        self,
        contract_id: UUID,
        status: SessionStatus | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[Session]:
        starts_at, session_id = after if after else (None, None)
        status_value = status.value if status else None
        rows = await self._connection.fetch(
            _PAGE, contract_id, status_value, starts_at, session_id, limit
        )
        return [_session_of(row) for row in rows]

    async def of_party(
        self, user_id: str, now: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[Session]:
        """Those to come, then (when the page has room) the past ones, each in one query."""
        starts_at, session_id = after if after else (None, None)
        found: list[asyncpg.Record] = []
        if starts_at is None or starts_at > now:
            found = await self._connection.fetch(
                _UPCOMING_OF_PARTY, user_id, now, starts_at, session_id, limit
            )
            starts_at, session_id = None, None
        if len(found) < limit:
            found += await self._connection.fetch(
                _PAST_OF_PARTY, user_id, now, starts_at, session_id, limit - len(found)
            )
        return [_session_of(row) for row in found]

    async def scheduled(self, contract_id: UUID) -> list[Session]:
        rows = await self._connection.fetch(_SCHEDULED_OF, contract_id)
        return [_session_of(row) for row in rows]

    async def recently_cancelled(self, contract_id: UUID, limit: int) -> list[Session]:
        rows = await self._connection.fetch(_RECENTLY_CANCELLED, contract_id, limit)
        return [_session_of(row) for row in rows]

    async def scheduled_from(self, contract_id: UUID, since: datetime) -> list[Session]:
        """The contract's scheduled sessions starting at or after `since`, locked."""
        rows = await self._connection.fetch(_SCHEDULED_SESSIONS_FROM, contract_id, since)
        return [_session_of(row) for row in rows]

    async def save_cancellations(self, cancelled: Sequence[Session]) -> None:
        if not cancelled:
            return
        await self._connection.executemany(
            _SAVE_CANCELLATION,
            [(session.id, *values_of(session, _CANCELLATION)) for session in cancelled],
        )
        for session in cancelled:
            self._publish(session)


def _contract_of(row: asyncpg.Record) -> ContractView:
    return entity_of(ContractView, row, status=ContractStatus)


def _session_of(row: asyncpg.Record) -> Session:
    return entity_of(Session, row, status=SessionStatus)
