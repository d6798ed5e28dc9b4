"""What the projection needs of storage: the read model's repositories in the transaction that
records (or replays) the event, and that event's envelope for the timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from skileez_backoffice.domain.contracts import ContractView
from skileez_backoffice.domain.payments import PaymentView, TimelineEntry
from skileez_backoffice.domain.records import (
    DisputeClosed,
    DisputeOpened,
    Hold,
    Refund,
    SessionChange,
)
from skileez_events import CloudEvent


@dataclass(frozen=True)
class ArchivedEvent:
    seq: int
    envelope: CloudEvent


class Archive(Protocol):
    async def add(self, envelope: CloudEvent) -> None:
        """Keep the envelope as received, once (a repeat of its id adds nothing)."""
        ...

    async def after(self, seq: int, limit: int) -> Sequence[ArchivedEvent]:
        """Up to `limit` archived events after `seq`, in the order they were received."""
        ...


class Contracts(Protocol):
    async def for_event(self, contract_id: UUID) -> ContractView:
        """The view, locked for the transaction; empty if no event told of it yet."""
        ...

    async def save(self, contract: ContractView) -> None: ...


class Payments(Protocol):
    async def for_event(self, payment_id: UUID, contract_id: UUID, at: datetime) -> PaymentView:
        """The view, locked for the transaction; new (first seen `at`) if no event told of it."""
        ...

    async def save(self, payment: PaymentView) -> None: ...


class Facts(Protocol):
    async def timeline(self, entry: TimelineEntry) -> None: ...

    async def refund(self, refund: Refund) -> None: ...

    async def dispute_opened(self, dispute: DisputeOpened) -> None: ...

    async def dispute_closed(self, dispute: DisputeClosed) -> None: ...

    async def hold(self, hold: Hold) -> None: ...

    async def session_booked(self, session: SessionChange) -> None: ...

    async def session_cancelled(self, session: SessionChange) -> None: ...


class UnitOfWork(Protocol):
    @property
    def event(self) -> CloudEvent:
        """The envelope of the event being projected."""
        ...

    @property
    def archive(self) -> Archive: ...

    @property
    def contracts(self) -> Contracts: ...

    @property
    def payments(self) -> Payments: ...

    @property
    def facts(self) -> Facts: ...
