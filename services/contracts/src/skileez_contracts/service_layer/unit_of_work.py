"""The unit of work the handlers run in: the repositories over one transaction, and how a
contract is stored with what its events cause, committed together or not at all.

The transaction belongs to the caller (an HTTP request, or the inbox consumer that records the
incoming event in it). `adapters.unit_of_work.PostgresUnitOfWork` is the one the service runs;
the tests' `FakeUnitOfWork` keeps everything in memory.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from skileez_contracts.domain.contract import Contract
from skileez_contracts.domain.notifications import Notification
from skileez_contracts.domain.proposal import Proposal


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


class UnitOfWork(Protocol):
    """Proposals record no events and are written through their repository; a contract goes
    through `add` or `save`, which also store its public events in the outbox and the coach's
    notifications about its payments."""

    @property
    def proposals(self) -> ProposalRepository: ...

    @property
    def contracts(self) -> ContractRepository: ...

    @property
    def notifications(self) -> NotificationRepository: ...

    async def add(self, contract: Contract) -> None:
        """Store a new contract and what its events cause."""

    async def save(self, contract: Contract) -> None:
        """Store a contract got `for_update`, if its events say it changed, and what they cause."""
