"""Learning payable contracts from the contracts service's `ContractCreated` events."""

from __future__ import annotations

import asyncpg

from skileez_events import ContractCreated, Incoming

_LEARN = (
    "INSERT INTO contracts"
    " (id, student_id, coach_id, title, session_count, amount, currency, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING"
)
"""Its terms never change: a contract already known is left as it is."""


async def learn_contract(event: Incoming[ContractCreated], connection: asyncpg.Connection) -> None:
    """Remember what the contract costs and who pays it; the amount never comes from a client."""
    data = event.data
    await connection.execute(
        _LEARN,
        data.contract_id,
        data.student_id,
        data.coach_id,
        data.title,
        data.session_count,
        data.amount,
        data.currency,
        data.created_at,
    )
