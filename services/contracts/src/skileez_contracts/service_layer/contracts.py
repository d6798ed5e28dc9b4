"""Contracts: taken by the student from an accepted proposal, seen by its two parties."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from skileez_contracts.domain.commands import CreateContract
from skileez_contracts.domain.contract import Contract
from skileez_contracts.domain.errors import ContractExists, ContractNotFound, NotAParty
from skileez_contracts.service_layer.proposals import locked_proposal
from skileez_contracts.service_layer.unit_of_work import UnitOfWork


async def create_contract(command: CreateContract, uow: UnitOfWork) -> Contract:
    """The one contract of an accepted proposal; ContractCreated goes out in the same commit."""
    # The proposal's row lock makes two concurrent requests for one proposal take turns.
    proposal = await locked_proposal(command.proposal_id, uow)
    contract = Contract.from_proposal(
        proposal,
        student_id=command.student_id,
        now=datetime.now(UTC),
        student_name=command.student_name,
    )
    if (existing := await uow.contracts.id_for_proposal(proposal.id)) is not None:
        raise ContractExists(existing)
    await uow.add(contract)
    return contract


async def show_contract(contract_id: uuid.UUID, uow: UnitOfWork, *, viewer: str) -> Contract:
    contract = await uow.contracts.get(contract_id)
    if contract is None:
        raise ContractNotFound(f"There is no contract {contract_id}.")
    if not contract.is_party(viewer):
        raise NotAParty("Only the student and the coach of a contract may see it.")
    return contract


async def contracts_of(user_id: str, uow: UnitOfWork, *, limit: int, offset: int) -> list[Contract]:
    return await uow.contracts.of_party(user_id, limit=limit, offset=offset)


async def contract_of_proposal(proposal_id: uuid.UUID, uow: UnitOfWork) -> uuid.UUID | None:
    """The contract taken from the proposal, if any."""
    return await uow.contracts.id_for_proposal(proposal_id)
