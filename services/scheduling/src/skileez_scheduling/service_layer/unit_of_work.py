"""What the handlers need of storage: scheduling's view of contracts and its sessions, in one
transaction that the caller commits (or rolls back) around the handler."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from skileez_scheduling.domain.contracts import ContractView, SessionTally
from skileez_scheduling.domain.sessions import Session, SessionStatus


class ContractViews(Protocol):
    async def get(self, contract_id: UUID, *, for_update: bool = False) -> ContractView | None:
        """The view, if any event has told of the contract; locked if `for_update`."""
        ...

    async def for_event(self, contract_id: UUID) -> ContractView:
        """The view, locked for the rest of the transaction; created pending if this is the
        first event about the contract."""
        ...

    def save(self, contract: ContractView) -> None:
        """Store a view `for_event` gave."""
        ...

    async def get_many(self, contract_ids: Collection[UUID]) -> dict[UUID, ContractView]:
        """The views of those of these contracts that scheduling has heard of, by id."""
        ...


class Sessions(Protocol):
    async def tally(self, contract_id: UUID) -> SessionTally:
        """How many of the contract's sessions are scheduled, and how many were cancelled."""
        ...

    async def add(self, session: Session) -> None:
        """Store a booked session (and stage the events it recorded); `SessionOverlap` if its
        coach or its student already has a scheduled session at an overlapping time."""
        ...

    async def get(self, session_id: UUID, *, for_update: bool = False) -> Session | None: ...

    async def page(
        self,
        contract_id: UUID,
        status: SessionStatus | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[Session]:
        """Up to `limit` of the contract's sessions of `status` (any if None), by start time
        then id, after the (starts_at, id) `after`."""
        ...

    async def of_party(
        self, user_id: str, now: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[Session]:
        """Up to `limit` of the sessions `user_id` is the student or coach of: those starting
        after `now` by start time, then the others latest first; after the (starts_at, id)
        `after` (among those to come if it starts after `now`, else among the others)."""
        ...

    async def scheduled(self, contract_id: UUID) -> list[Session]:
        """The contract's scheduled sessions by start time (at most its session count, when
        it has one)."""
        ...

    async def recently_cancelled(self, contract_id: UUID, limit: int) -> list[Session]:
        """Up to `limit` of the contract's cancelled sessions, the latest cancelled first."""
        ...

    async def scheduled_from(self, contract_id: UUID, since: datetime) -> list[Session]:
        """The contract's scheduled sessions starting at or after `since`, locked."""
        ...

    async def save_cancellations(self, cancelled: Sequence[Session]) -> None:
        """Store cancellations (and stage the events they recorded)."""
        ...


class UnitOfWork(Protocol):
    @property
    def contracts(self) -> ContractViews: ...

    @property
    def sessions(self) -> Sessions:
        """Saving a session also publishes the events it recorded, in the same transaction."""
        ...

    @property
    def traceparent(self) -> str | None:
        """The W3C trace context of the span the work runs under (an event's processing, a
        request's); None when it is not traced."""
        ...
