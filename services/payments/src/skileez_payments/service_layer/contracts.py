"""Learning payable contracts from the contracts service's `ContractCreated` events."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from skileez_events import ContractCreated, Incoming
from skileez_payments.adapters.tables import contracts

_LEARN = insert(contracts).on_conflict_do_nothing()
"""Its terms never change: a contract already known is left as it is."""


async def learn_contract(event: Incoming[ContractCreated], session: AsyncSession) -> None:
    """Remember what the contract costs and who pays it; the amount never comes from a client.

    Runs in the inbox consumer's SQLAlchemy session, like every consumer's handler.
    """
    data = event.data
    await session.execute(
        _LEARN,
        {
            "id": data.contract_id,
            "student_id": data.student_id,
            "coach_id": data.coach_id,
            "title": data.title,
            "session_count": data.session_count,
            "amount": data.amount,
            "currency": data.currency,
            "created_at": data.created_at,
        },
    )
