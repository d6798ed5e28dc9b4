"""Proposals: a coach proposes, the student answers."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from skileez_contracts.domain.errors import NotAParty, ProposalNotFound
from skileez_contracts.domain.proposal import Proposal
from skileez_contracts.service_layer.unit_of_work import UnitOfWork


async def propose(
    uow: UnitOfWork,
    *,
    coach_id: str,
    student_id: str,
    title: str,
    description: str,
    session_count: int,
    price_per_session: int,
    currency: str,
) -> Proposal:
    proposal = Proposal.propose(
        coach_id=coach_id,
        student_id=student_id,
        title=title,
        description=description,
        session_count=session_count,
        price_per_session=price_per_session,
        currency=currency,
        now=datetime.now(UTC),
    )
    await uow.proposals.add(proposal)
    return proposal


async def show_proposal(uow: UnitOfWork, proposal_id: uuid.UUID, viewer: str) -> Proposal:
    proposal = await uow.proposals.get(proposal_id)
    if proposal is None:
        raise ProposalNotFound(f"There is no proposal {proposal_id}.")
    if not proposal.is_party(viewer):
        raise NotAParty("Only the coach and the student of a proposal may see it.")
    return proposal


async def proposals_of(uow: UnitOfWork, user_id: str, *, limit: int, offset: int) -> list[Proposal]:
    return await uow.proposals.of_party(user_id, limit=limit, offset=offset)


async def accept_proposal(uow: UnitOfWork, proposal_id: uuid.UUID, student_id: str) -> Proposal:
    proposal = await locked_proposal(uow, proposal_id)
    proposal.accept(student_id, datetime.now(UTC))
    await uow.proposals.update(proposal)
    return proposal


async def decline_proposal(uow: UnitOfWork, proposal_id: uuid.UUID, student_id: str) -> Proposal:
    proposal = await locked_proposal(uow, proposal_id)
    proposal.decline(student_id, datetime.now(UTC))
    await uow.proposals.update(proposal)
    return proposal


async def locked_proposal(uow: UnitOfWork, proposal_id: uuid.UUID) -> Proposal:
    """The proposal, locked until the transaction ends."""
    proposal = await uow.proposals.get(proposal_id, for_update=True)
    if proposal is None:
        raise ProposalNotFound(f"There is no proposal {proposal_id}.")
    return proposal


Decision = Callable[[UnitOfWork, uuid.UUID, str], Awaitable[Proposal]]
"""How a student answers a proposal: `accept_proposal` or `decline_proposal`."""
