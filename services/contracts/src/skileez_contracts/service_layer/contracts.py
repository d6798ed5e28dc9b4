"""Contracts: taken by the student from an accepted proposal, seen by its two parties."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from skileez_contracts.domain.contract import Contract
from skileez_contracts.domain.errors import ContractExists, ContractNotFound, NotAParty
from skileez_contracts.service_layer.proposals import locked_proposal
from skileez_contracts.service_layer.unit_of_work import UnitOfWork


async def create_contract(uow: UnitOfWork, proposal_id: uuid.UUID, student_id: str) -> Contract:
    """The one contract of an accepted proposal; ContractCreated goes out in the same commit."""
    # The proposal's row lock makes two concurrent requests for one proposal take turns.
    proposal = await locked_proposal(uow, proposal_id)
    contract = Contract.from_proposal(proposal, student_id=student_id, now=datetime.now(UTC))
    if (existing := await uow.contracts.id_for_proposal(proposal_id)) is not None:
        raise ContractExists(existing)
    await uow.save(contract, new=True)
    return contract


async def show_contract(uow: UnitOfWork, contract_id: uuid.UUID, viewer: str) -> Contract:
    contract = await uow.contracts.get(contract_id)
    if contract is None:
        raise ContractNotFound(f"There is no contract {contract_id}.")
    if not contract.is_party(viewer):
        raise NotAParty("Only the student and the coach of a contract may see it.")
    return contract


async def contracts_of(uow: UnitOfWork, user_id: str, *, limit: int, offset: int) -> list[Contract]:
    return await uow.contracts.of_party(user_id, limit=limit, offset=offset)
