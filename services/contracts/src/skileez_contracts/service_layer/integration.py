"""The public face of the contract's domain events: the integration events other services read."""

from __future__ import annotations

from skileez_contracts.domain import events
from skileez_contracts.domain.contract import Contract
from skileez_events import (
    ContractActivated,
    ContractCancelled,
    ContractCreated,
    ContractPaymentFailed,
    ContractReinstated,
    ContractSuspended,
    EventData,
)


def integration_events(contract: Contract, recorded: list[events.DomainEvent]) -> list[EventData]:
    """The integration events the contract's recorded events are published as, in order."""
    return [data for event in recorded if (data := integration_event(contract, event)) is not None]


def integration_event(contract: Contract, event: events.DomainEvent) -> EventData | None:
    """The integration event `event` is published as; None for what stays inside the service."""
    match event:
        case events.ContractCreated(created_at=created_at):
            return ContractCreated(
                contract_id=contract.id,
                proposal_id=contract.proposal_id,
                student_id=contract.student_id,
                coach_id=contract.coach_id,
                title=contract.title,
                session_count=contract.session_count,
                amount=contract.amount,
                currency=contract.currency,
                created_at=created_at,
                student_name=contract.student_name,
                coach_name=contract.coach_name,
            )
        case events.ContractActivated(payment_id=payment_id, activated_at=activated_at):
            return ContractActivated(
                contract_id=contract.id,
                student_id=contract.student_id,
                coach_id=contract.coach_id,
                session_count=contract.session_count,
                amount=contract.amount,
                currency=contract.currency,
                payment_id=payment_id,
                activated_at=activated_at,
            )
        case events.ContractPaymentFailed(payment_id=payment_id, reason=reason, failed_at=at):
            return ContractPaymentFailed(
                contract_id=contract.id, payment_id=payment_id, reason=reason, failed_at=at
            )
        case events.ContractSuspended(reason=reason, suspended_at=at):
            return ContractSuspended(
                contract_id=contract.id, reason=f"payment disputed: {reason}", suspended_at=at
            )
        case events.ContractReinstated(reinstated_at=at):
            return ContractReinstated(contract_id=contract.id, reinstated_at=at)
        case events.ContractCancelled(
            reason=reason, cancelled_at=at, cancelled_by=by, refund_amount=refund
        ):
            return ContractCancelled(
                contract_id=contract.id,
                reason=reason,
                cancelled_at=at,
                cancelled_by=by,
                refund_amount=refund,
                payment_id=contract.payment_id,
            )
        case _:
            return None
