"""Proposals: a coach proposes, the student answers."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from skileez_contracts.domain.commands import AnswerProposal, MakeProposal
from skileez_contracts.domain.errors import NotAParty, ProposalNotFound
from skileez_contracts.domain.proposal import Proposal
from skileez_contracts.service_layer.unit_of_work import UnitOfWork


async def propose(command: MakeProposal, uow: UnitOfWork) -> Proposal:
    proposal = Proposal.propose(
        coach_id=command.coach_id,
        student_id=command.student_id,
        title=command.title,
        description=command.description,
        session_count=command.session_count,
        price_per_session=command.price_per_session,
        currency=command.currency,
        now=datetime.now(UTC),
        coach_name=command.coach_name,
    )
    await uow.proposals.add(proposal)
    return proposal


async def show_proposal(proposal_id: uuid.UUID, uow: UnitOfWork, *, viewer: str) -> Proposal:
    proposal = await uow.proposals.get(proposal_id)
    if proposal is None:
        raise ProposalNotFound(f"There is no proposal {proposal_id}.")
    if not proposal.is_party(viewer):
        raise NotAParty("Only the coach and the student of a proposal may see it.")
    return proposal


async def proposals_of(user_id: str, uow: UnitOfWork, *, limit: int, offset: int) -> list[Proposal]:
    return await uow.proposals.of_party(user_id, limit=limit, offset=offset)


async def accept_proposal(answer: AnswerProposal, uow: UnitOfWork) -> Proposal:
    proposal = await locked_proposal(answer.proposal_id, uow)
    proposal.accept(answer.student_id, datetime.now(UTC), name=answer.student_name)
    await uow.proposals.update(proposal)
    return proposal


async def decline_proposal(answer: AnswerProposal, uow: UnitOfWork) -> Proposal:
    proposal = await locked_proposal(answer.proposal_id, uow)
    proposal.decline(answer.student_id, datetime.now(UTC), name=answer.student_name)
    await uow.proposals.update(proposal)
    return proposal


async def locked_proposal(proposal_id: uuid.UUID, uow: UnitOfWork) -> Proposal:
    """The proposal, locked until the transaction ends."""
    proposal = await uow.proposals.get(proposal_id, for_update=True)
    if proposal is None:
        raise ProposalNotFound(f"There is no proposal {proposal_id}.")
    return proposal


Decision = Callable[[AnswerProposal, UnitOfWork], Awaitable[Proposal]]
"""How a student answers a proposal: `accept_proposal` or `decline_proposal`."""
