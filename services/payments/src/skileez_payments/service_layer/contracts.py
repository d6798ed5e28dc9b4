"""Learning payable contracts from the contracts service's `ContractCreated` events."""

from __future__ import annotations

import asyncpg

from skileez_events import ContractCreated, Incoming
from skileez_payments.adapters.repository import ContractRepository
from skileez_payments.domain.contract import PayableContract


async def learn_contract(event: Incoming[ContractCreated], connection: asyncpg.Connection) -> None:
    """Remember what the contract costs and who pays it; the amount never comes from a client."""
    data = event.data
    await ContractRepository(connection).learn(
        PayableContract(
            id=data.contract_id,
            student_id=data.student_id,
            coach_id=data.coach_id,
            title=data.title,
            session_count=data.session_count,
            amount=data.amount,
            currency=data.currency,
            created_at=data.created_at,
        )
    )
