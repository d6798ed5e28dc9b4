"""The unit of work the handlers run in: the repositories over one transaction, and how a
contract is stored with what its events cause, committed together or not at all.

The transaction belongs to the caller (an HTTP request, or the inbox consumer that records the
incoming event in it). `adapters.unit_of_work.PostgresUnitOfWork` is the one the service runs;
the tests' `FakeUnitOfWork` keeps everything in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from skileez_contracts.domain.contract import Contract
from skileez_contracts.domain.notifications import Notification
from skileez_contracts.domain.proposal import Proposal
from skileez_contracts.domain.sessions import BookedSession
from skileez_events import CloudEvent, PaymentDisputeClosed, PaymentDisputed, PaymentRefunded

PaymentNews = PaymentRefunded | PaymentDisputed | PaymentDisputeClosed
"""What happens to a payment after it succeeded: it can wait for that success."""


@dataclass(frozen=True)
class WaitingEvent:
    """News of a payment kept until the payment's success; `envelope` is the message that
    brought it (None in memory), the cause of what it does once applied."""

    news: PaymentNews
    envelope: CloudEvent | None = None


class ProposalRepository(Protocol):
    async def add(self, proposal: Proposal) -> None: ...

    async def get(self, proposal_id: uuid.UUID, *, for_update: bool = False) -> Proposal | None:
        """The proposal; `for_update` locks it until the transaction ends."""

    async def of_party(self, user_id: str, *, limit: int, offset: int) -> list[Proposal]:
        """The proposals `user_id` made (as coach) or received (as student), newest first."""

    async def update(self, proposal: Proposal) -> None: ...


class ContractRepository(Protocol):
    async def get(self, contract_id: uuid.UUID, *, for_update: bool = False) -> Contract | None:
        """The contract; `for_update` locks it, so the events about it apply one at a time."""

    async def id_for_proposal(self, proposal_id: uuid.UUID) -> uuid.UUID | None: ...

    async def of_party(self, user_id: str, *, limit: int, offset: int) -> list[Contract]:
        """The contracts where `user_id` is the student or the coach, newest first."""


class NotificationRepository(Protocol):
    async def for_recipient(self, user_id: str, *, limit: int, offset: int) -> list[Notification]:
        """The notifications of `user_id`, newest first."""

    async def mark_read(
        self, user_id: str, notification_ids: Collection[uuid.UUID], at: datetime
    ) -> None:
        """Mark these notifications of `user_id` read at `at` (those already read stay so)."""


class WaitingEventRepository(Protocol):
    async def keep(self, news: PaymentNews) -> None:
        """Keep `news`, the event being handled, until its payment's success arrives."""

    async def take(self, payment_id: uuid.UUID) -> list[WaitingEvent]:
        """The news kept for `payment_id`, in the order it came; kept no longer."""


class SessionRepository(Protocol):
    async def record_booked(self, session: BookedSession) -> None:
        """Keep a booked session; one known already (booked, or cancelled first) stays."""

    async def record_cancelled(self, session: BookedSession) -> None:
        """Keep a session cancelled, whether or not its booking came first."""

    async def of_contract(self, contract_id: uuid.UUID) -> list[BookedSession]:
        """The contract's sessions, by start time."""


class UnitOfWork(Protocol):
    """Proposals record no events and are written through their repository, sessions too; a
    contract goes through `add` or `save`, which also store its public events in the outbox and
    the parties' notifications."""

    @property
    def proposals(self) -> ProposalRepository: ...

    @property
    def contracts(self) -> ContractRepository: ...

    @property
    def notifications(self) -> NotificationRepository: ...

    @property
    def waiting_events(self) -> WaitingEventRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    async def add(self, contract: Contract) -> None:
        """Store a new contract and what its events cause."""

    async def save(self, contract: Contract, *, cause: WaitingEvent | None = None) -> None:
        """Store a contract got `for_update`, if its events say it changed, and what they cause;
        `cause`: the kept event they come from, instead of the one being handled."""
