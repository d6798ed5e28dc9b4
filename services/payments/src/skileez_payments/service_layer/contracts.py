"""Learning payable contracts from the contracts service's `ContractCreated` events."""

from __future__ import annotations

from skileez_events import ContractCreated
from skileez_payments.domain.contract import PayableContract
from skileez_payments.service_layer.unit_of_work import UnitOfWork


async def learn_contract(event: ContractCreated, uow: UnitOfWork) -> None:
    """Remember what the contract costs and who pays it; the amount never comes from a client."""
    await uow.contracts.learn(
        PayableContract(
            id=event.contract_id,
            student_id=event.student_id,
            coach_id=event.coach_id,
            title=event.title,
            session_count=event.session_count,
            amount=event.amount,
            currency=event.currency,
            created_at=event.created_at,
            student_name=event.student_name,
            coach_name=event.coach_name,
        )
    )
