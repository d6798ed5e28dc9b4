"""The unit of work in memory: what the handlers would commit, kept in lists and dicts."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime
from typing import TypeVar

from skileez_contracts.domain.contract import Contract
from skileez_contracts.domain.events import DomainEvent
from skileez_contracts.domain.notifications import Notification, contract_notifications
from skileez_contracts.domain.proposal import Proposal
from skileez_contracts.domain.sessions import BookedSession
from skileez_contracts.service_layer.integration import integration_events
from skileez_contracts.service_layer.unit_of_work import PaymentNews, WaitingEvent
from skileez_events import EventData


class FakeProposalRepository:
    def __init__(self) -> None:
        self.stored: dict[uuid.UUID, Proposal] = {}

    async def add(self, proposal: Proposal) -> None:
        self.stored[proposal.id] = replace(proposal)

    async def get(self, proposal_id: uuid.UUID, *, for_update: bool = False) -> Proposal | None:
        found = self.stored.get(proposal_id)
        return None if found is None else replace(found)

    async def of_party(self, user_id: str, *, limit: int, offset: int) -> list[Proposal]:
        mine = [p for p in self.stored.values() if p.is_party(user_id)]
        return _newest_first(mine)[offset : offset + limit]

    async def update(self, proposal: Proposal) -> None:
        self.stored[proposal.id] = replace(proposal)


class FakeContractRepository:
    """Like the database, it hands out copies: a change counts only once saved."""

    def __init__(self) -> None:
        self.stored: dict[uuid.UUID, Contract] = {}

    async def get(self, contract_id: uuid.UUID, *, for_update: bool = False) -> Contract | None:
        found = self.stored.get(contract_id)
        return None if found is None else replace(found, events=[])

    async def id_for_proposal(self, proposal_id: uuid.UUID) -> uuid.UUID | None:
        return next((c.id for c in self.stored.values() if c.proposal_id == proposal_id), None)

    async def of_party(self, user_id: str, *, limit: int, offset: int) -> list[Contract]:
        mine = [replace(c, events=[]) for c in self.stored.values() if c.is_party(user_id)]
        return _newest_first(mine)[offset : offset + limit]


class FakeNotificationRepository:
    def __init__(self) -> None:
        self.stored: list[Notification] = []

    async def for_recipient(self, user_id: str, *, limit: int, offset: int) -> list[Notification]:
        mine = [n for n in self.stored if n.recipient_id == user_id]
        return _newest_first(mine)[offset : offset + limit]

    async def mark_read(
        self, user_id: str, notification_ids: Collection[uuid.UUID], at: datetime
    ) -> None:
        self.stored = [
            replace(n, read_at=at)
            if n.recipient_id == user_id and n.id in notification_ids and n.read_at is None
            else n
            for n in self.stored
        ]


class FakeWaitingEventRepository:
    def __init__(self) -> None:
        self.stored: list[PaymentNews] = []

    async def keep(self, news: PaymentNews) -> None:
        self.stored.append(news)

    async def take(self, payment_id: uuid.UUID) -> list[WaitingEvent]:
        taken = [news for news in self.stored if news.payment_id == payment_id]
        self.stored = [news for news in self.stored if news.payment_id != payment_id]
        return [WaitingEvent(news) for news in taken]


class FakeSessionRepository:
    def __init__(self) -> None:
        self.stored: dict[uuid.UUID, BookedSession] = {}

    async def record_booked(self, session: BookedSession) -> None:
        self.stored.setdefault(session.id, session)

    async def record_cancelled(self, session: BookedSession) -> None:
        known = self.stored.get(session.id)
        if known is None or known.cancelled_at is None:
            self.stored[session.id] = replace(known or session, cancelled_at=session.cancelled_at)

    async def of_contract(self, contract_id: uuid.UUID) -> list[BookedSession]:
        mine = [s for s in self.stored.values() if s.contract_id == contract_id]
        return sorted(mine, key=lambda session: session.starts_at)


class FakeUnitOfWork:
    """Records, as the real one commits: the contracts' states, the integration events in the
    outbox, the parties' notifications, the sessions, and how many times a contract row was
    written."""

    def __init__(self) -> None:
        self.proposals = FakeProposalRepository()
        self.contracts = FakeContractRepository()
        self.notifications = FakeNotificationRepository()
        self.waiting_events = FakeWaitingEventRepository()
        self.sessions = FakeSessionRepository()
        self.outbox: list[EventData] = []
        self.contract_writes = 0

    async def add(self, contract: Contract) -> None:
        recorded = contract.pull_events()
        self._write(contract)
        self._store_effects(contract, recorded)

    async def save(self, contract: Contract, *, cause: WaitingEvent | None = None) -> None:
        recorded = contract.pull_events()
        if recorded:
            self._write(contract)
        self._store_effects(contract, recorded)

    def _write(self, contract: Contract) -> None:
        self.contracts.stored[contract.id] = replace(contract, events=[])
        self.contract_writes += 1

    def _store_effects(self, contract: Contract, recorded: list[DomainEvent]) -> None:
        self.outbox += integration_events(contract, recorded)
        self.notifications.stored += contract_notifications(contract, recorded, datetime.now(UTC))


Dated = TypeVar("Dated", Proposal, Contract, Notification)


def _newest_first(items: list[Dated]) -> list[Dated]:
    return sorted(items, key=lambda item: item.created_at, reverse=True)
