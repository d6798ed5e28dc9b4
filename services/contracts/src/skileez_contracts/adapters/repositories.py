"""Repositories: load and store the aggregates with asyncpg, inside the caller's transaction.

Plain SQL on asyncpg's prepared statements (cached per connection): the payment consumer and
the contract page run these on every event and view, where SQLAlchemy's execution layer cost
several times their CPU (bench/README.md). Column names come from `adapters.tables`, the
schema Alembic migrates: no value is ever formatted into SQL, only those names.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, datetime

import asyncpg

from skileez_contracts.adapters.tables import (
    contract_sessions,
    contracts,
    notifications,
    proposals,
    waiting_payment_events,
)
from skileez_contracts.domain.cancellation import Canceller
from skileez_contracts.domain.contract import (
    Contract,
    ContractStatus,
    DisputeStatus,
    PaymentStatus,
)
from skileez_contracts.domain.notifications import Notification, NotificationKind
from skileez_contracts.domain.proposal import Proposal, ProposalStatus
from skileez_contracts.domain.sessions import BookedSession
from skileez_contracts.service_layer.unit_of_work import PaymentNews, WaitingEvent
from skileez_db.connections import identity_map
from skileez_db.statements import (
    StagedInsert,
    StagedUpdate,
    entity_of,
    insert_sql,
    select_sql,
    update_sql,
    values_of,
)
from skileez_events import EVENT_MODELS, CloudEvent

CONTRACT_STATE = (
    "status",
    "payment_status",
    "payment_id",
    "stripe_payment_intent_id",
    "payment_date",
    "activated_at",
    "cancelled_at",
    "stripe_dispute_id",
    "dispute_status",
    "processing_payment_id",
    "payment_processing_at",
    "failed_payment_id",
    "amount_refunded",
    "cancelled_by",
    "cancelled_by_role",
    "cancellation_reason",
    "cancellation_refund",
    "refunded_at_cancellation",
)
"""The columns a contract's transitions change."""

_PROPOSAL_COLUMNS = [column.name for column in proposals.c]
_CONTRACT_COLUMNS = [column.name for column in contracts.c]
_NOTIFICATION_COLUMNS = [
    column.name for column in notifications.c if column.name != "source_event_id"
]
"""What a notification is; the id of the event that caused it is stored, never read back."""


_NEWEST_FIRST = "ORDER BY created_at DESC, id LIMIT $2 OFFSET $3"

_SELECT_PROPOSAL = f"{select_sql(proposals, _PROPOSAL_COLUMNS)} WHERE id = $1"
_SELECT_PROPOSAL_LOCKED = f"{_SELECT_PROPOSAL} FOR UPDATE"
_INSERT_PROPOSAL = insert_sql(proposals, _PROPOSAL_COLUMNS)
PROPOSAL_DECISION = ("status", "decided_at", "student_name")
"""The columns a student's answer changes."""
_UPDATE_PROPOSAL = update_sql(proposals, PROPOSAL_DECISION)
_PROPOSALS_OF_PARTY = (
    f"{select_sql(proposals, _PROPOSAL_COLUMNS)}"
    f" WHERE coach_id = $1 OR student_id = $1 {_NEWEST_FIRST}"
)

_SELECT_CONTRACT = f"{select_sql(contracts, _CONTRACT_COLUMNS)} WHERE id = $1"
_LOCK_CONTRACTS = (
    f"{select_sql(contracts, _CONTRACT_COLUMNS)} WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE"
)
"""Rows are locked as they come out of the sort: in the order of their ids."""
_INSERT_CONTRACT = insert_sql(contracts, _CONTRACT_COLUMNS)
_CONTRACT_CHANGES = StagedUpdate(contracts, CONTRACT_STATE)
_CONTRACT_OF_PROPOSAL = "SELECT id FROM contracts WHERE proposal_id = $1"
_CONTRACTS_OF_PARTY = (
    f"{select_sql(contracts, _CONTRACT_COLUMNS)}"
    f" WHERE student_id = $1 OR coach_id = $1 {_NEWEST_FIRST}"
)

_NOTIFICATION_ROWS = StagedInsert(notifications, [*_NOTIFICATION_COLUMNS, "source_event_id"])
_NOTIFICATIONS_OF_RECIPIENT = (
    f"{select_sql(notifications, _NOTIFICATION_COLUMNS)} WHERE recipient_id = $1 {_NEWEST_FIRST}"
)
_MARK_READ = (
    "UPDATE notifications SET read_at = $3"
    " WHERE recipient_id = $1 AND id = ANY($2::uuid[]) AND read_at IS NULL"
)


class ProposalRepository:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def add(self, proposal: Proposal) -> None:
        await self._connection.execute(_INSERT_PROPOSAL, *values_of(proposal, _PROPOSAL_COLUMNS))

    async def get(self, proposal_id: uuid.UUID, *, for_update: bool = False) -> Proposal | None:
        query = _SELECT_PROPOSAL_LOCKED if for_update else _SELECT_PROPOSAL
        row = await self._connection.fetchrow(query, proposal_id)
        return None if row is None else _proposal(row)

    async def of_party(self, user_id: str, *, limit: int, offset: int) -> list[Proposal]:
        """The proposals `user_id` made (as coach) or received (as student), newest first."""
        rows = await self._connection.fetch(_PROPOSALS_OF_PARTY, user_id, limit, offset)
        return [_proposal(row) for row in rows]

    async def update(self, proposal: Proposal) -> None:
        values = values_of(proposal, PROPOSAL_DECISION)
        await self._connection.execute(_UPDATE_PROPOSAL, proposal.id, *values)


class ContractRepository:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def add(self, contract: Contract) -> None:
        await self._connection.execute(_INSERT_CONTRACT, *values_of(contract, _CONTRACT_COLUMNS))

    async def get(self, contract_id: uuid.UUID, *, for_update: bool = False) -> Contract | None:
        """The contract; `for_update` locks it so concurrent payment events apply one at a time
        (the transaction's one object for it, kept in its identity map)."""
        if not for_update:
            row = await self._connection.fetchrow(_SELECT_CONTRACT, contract_id)
            return None if row is None else _contract(row)
        kept = identity_map(self._connection)
        if (contract := kept.get(Contract, contract_id)) is None:
            await self.lock([contract_id])
            contract = kept.get(Contract, contract_id)
        return contract

    async def lock(self, contract_ids: Collection[uuid.UUID]) -> None:
        """Lock these contracts in one statement, in the order of their ids; `get(...,
        for_update=True)` then finds them kept."""
        kept = identity_map(self._connection)
        for row in await self._connection.fetch(_LOCK_CONTRACTS, list(contract_ids)):
            if kept.get(Contract, row["id"]) is None:
                kept.add(row["id"], _contract(row))

    async def id_for_proposal(self, proposal_id: uuid.UUID) -> uuid.UUID | None:
        found: uuid.UUID | None = await self._connection.fetchval(
            _CONTRACT_OF_PROPOSAL, proposal_id
        )
        return found

    async def of_party(self, user_id: str, *, limit: int, offset: int) -> list[Contract]:
        """The contracts where `user_id` is the student or the coach, newest first."""
        rows = await self._connection.fetch(_CONTRACTS_OF_PARTY, user_id, limit, offset)
        return [_contract(row) for row in rows]

    def update(self, contract: Contract) -> None:
        """Staged: written with the transaction's other contract changes just before it
        commits. Only for the contract `get(..., for_update=True)` keeps (SQL in the same
        transaction would not see the change)."""
        _CONTRACT_CHANGES.save(self._connection, contract.id, values_of(contract, CONTRACT_STATE))


_KEEP_WAITING = insert_sql(
    waiting_payment_events,
    ["event_id", "payment_id", "contract_id", "event_type", "body", "received_at"],
)
_TAKE_WAITING = (
    "DELETE FROM waiting_payment_events WHERE payment_id = $1 RETURNING body, received_at, event_id"
)


class WaitingEventRepository:
    """The payment news kept for its payment's success, as the CloudEvents that brought it."""

    def __init__(self, connection: asyncpg.Connection, cause: CloudEvent | None) -> None:
        self._connection = connection
        self._cause = cause

    async def keep(self, news: PaymentNews) -> None:
        if self._cause is None:
            raise RuntimeError("only an incoming event can wait for its payment")
        await self._connection.execute(
            _KEEP_WAITING,
            self._cause.id,
            news.payment_id,
            news.contract_id,
            self._cause.type,
            self._cause.to_json().decode(),
            datetime.now(UTC),
        )

    async def take(self, payment_id: uuid.UUID) -> list[WaitingEvent]:
        rows = await self._connection.fetch(_TAKE_WAITING, payment_id)
        taken = []
        for row in sorted(rows, key=lambda row: (row["received_at"], row["event_id"])):
            envelope = CloudEvent.from_json(row["body"])
            news = EVENT_MODELS[envelope.type].model_validate(envelope.data)
            taken.append(WaitingEvent(news=news, envelope=envelope))  # type: ignore[arg-type]
        return taken


class NotificationRepository:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    def add(self, notification: Notification, *, source_event_id: str) -> None:
        """Staged: written with the others of the transaction just before it commits (a second
        one for the same event then fails the commit: one notification per event)."""
        values = values_of(notification, _NOTIFICATION_COLUMNS)
        _NOTIFICATION_ROWS.add(self._connection, [*values, source_event_id])

    async def for_recipient(self, user_id: str, *, limit: int, offset: int) -> list[Notification]:
        """The notifications of `user_id`, newest first."""
        rows = await self._connection.fetch(_NOTIFICATIONS_OF_RECIPIENT, user_id, limit, offset)
        return [_notification(row) for row in rows]

    async def mark_read(
        self, user_id: str, notification_ids: Collection[uuid.UUID], at: datetime
    ) -> None:
        """Mark these notifications of `user_id` read at `at`; those already read stay so."""
        await self._connection.execute(_MARK_READ, user_id, list(notification_ids), at)


_SESSION_COLUMNS = [column.name for column in contract_sessions.c]
_RECORD_BOOKED = f"{insert_sql(contract_sessions, _SESSION_COLUMNS)} ON CONFLICT (id) DO NOTHING"
"""A booking never undoes a cancellation that came first."""
_RECORD_CANCELLED = (
    f"{insert_sql(contract_sessions, _SESSION_COLUMNS)} ON CONFLICT (id) DO UPDATE"
    " SET cancelled_at = COALESCE(contract_sessions.cancelled_at, EXCLUDED.cancelled_at)"
)
"""A cancellation that comes before its booking is kept, and the booking then finds it."""
_SESSIONS_OF_CONTRACT = (
    f"{select_sql(contract_sessions, _SESSION_COLUMNS)} WHERE contract_id = $1 ORDER BY starts_at"
)


class SessionRepository:
    """The contracts' sessions as scheduling reports them: in any order, each applied once."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def record_booked(self, session: BookedSession) -> None:
        await self._connection.execute(_RECORD_BOOKED, *values_of(session, _SESSION_COLUMNS))

    async def record_cancelled(self, session: BookedSession) -> None:
        await self._connection.execute(_RECORD_CANCELLED, *values_of(session, _SESSION_COLUMNS))

    async def of_contract(self, contract_id: uuid.UUID) -> list[BookedSession]:
        rows = await self._connection.fetch(_SESSIONS_OF_CONTRACT, contract_id)
        return [entity_of(BookedSession, row) for row in rows]


def _proposal(row: asyncpg.Record) -> Proposal:
    return entity_of(Proposal, row, status=ProposalStatus)


def _contract(row: asyncpg.Record) -> Contract:
    values = dict(row)
    if (dispute := values["dispute_status"]) is not None:
        values["dispute_status"] = DisputeStatus(dispute)
    if (role := values["cancelled_by_role"]) is not None:
        values["cancelled_by_role"] = Canceller(role)
    return entity_of(Contract, values, status=ContractStatus, payment_status=PaymentStatus)


def _notification(row: asyncpg.Record) -> Notification:
    return entity_of(Notification, row, kind=NotificationKind)
