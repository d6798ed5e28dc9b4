"""Ending a contract early: the quote, before anyone commits, and the cancellation itself,
which publishes ContractCancelled with the refund owed (payments sends it back) and tells both
parties, in one transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from skileez_contracts.domain.cancellation import CancellationPolicy, CancellationQuote
from skileez_contracts.domain.commands import CancelContract
from skileez_contracts.domain.contract import Contract
from skileez_contracts.domain.errors import ContractNotFound
from skileez_contracts.service_layer.unit_of_work import UnitOfWork


async def quote_cancellation(
    contract_id: uuid.UUID,
    uow: UnitOfWork,
    *,
    user_id: str,
    admin: bool,
    policy: CancellationPolicy,
    now: datetime,
) -> tuple[Contract, CancellationQuote]:
    """What cancelling now would refund, for its student, its coach or an admin (each quoted
    for their own side); refused as the cancellation would be."""
    contract = await _contract(contract_id, uow, for_update=False)
    by = contract.canceller(user_id, admin=admin)
    contract.check_cancellable()
    sessions = await uow.sessions.of_contract(contract.id)
    return contract, contract.cancellation_quote(sessions, policy, by, now)


async def cancel_contract(
    command: CancelContract, uow: UnitOfWork, *, policy: CancellationPolicy, now: datetime
) -> tuple[Contract, CancellationQuote]:
    """Cancel at the quote computed under the contract's lock (session news about it waits)."""
    contract = await _contract(command.contract_id, uow, for_update=True)
    by = contract.canceller(command.user_id, admin=command.admin)
    sessions = await uow.sessions.of_contract(contract.id)
    quote = contract.cancel(
        user_id=command.user_id,
        by=by,
        reason=command.reason,
        sessions=sessions,
        policy=policy,
        now=now,
    )
    await uow.save(contract)
    return contract, quote


async def _contract(contract_id: uuid.UUID, uow: UnitOfWork, *, for_update: bool) -> Contract:
    contract = await uow.contracts.get(contract_id, for_update=for_update)
    if contract is None:
        raise ContractNotFound(f"There is no contract {contract_id}.")
    return contract
