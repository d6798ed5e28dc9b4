"""What the payments service tells us: a contract's payment succeeded, failed or was refunded.

Each handler runs in the inbox consumer's transaction, so one event is applied at most once;
the contract's row lock makes different events about one contract apply one after the other,
and the aggregate's guards make their order harmless.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from skileez_contracts.domain.contract import Contract
from skileez_contracts.domain.errors import ContractNotFound
from skileez_contracts.service_layer.unit_of_work import UnitOfWork
from skileez_events import PaymentFailed, PaymentRefunded, PaymentSucceeded


async def record_payment_succeeded(payment: PaymentSucceeded, uow: UnitOfWork) -> None:
    contract = await _locked_contract(payment.contract_id, uow)
    contract.mark_payment_paid(
        payment_id=payment.payment_id,
        stripe_payment_intent_id=payment.stripe_payment_intent_id,
        amount=payment.amount,
        currency=payment.currency,
        paid_at=payment.paid_at,
        now=datetime.now(UTC),
    )
    await uow.save(contract)


async def record_payment_failed(failure: PaymentFailed, uow: UnitOfWork) -> None:
    contract = await _locked_contract(failure.contract_id, uow)
    contract.mark_payment_failed(
        payment_id=failure.payment_id, reason=failure.reason, failed_at=failure.failed_at
    )
    await uow.save(contract)


async def record_payment_refunded(refund: PaymentRefunded, uow: UnitOfWork) -> None:
    contract = await _locked_contract(refund.contract_id, uow)
    contract.mark_payment_refunded(
        payment_id=refund.payment_id,
        refund_amount=refund.refund_amount,
        total_refunded=refund.total_refunded,
        currency=refund.currency,
        fully_refunded=refund.fully_refunded,
        refunded_at=refund.refunded_at,
    )
    await uow.save(contract)


async def _locked_contract(contract_id: uuid.UUID, uow: UnitOfWork) -> Contract:
    # An unknown contract is an error, not a no-op: the message is dead-lettered, not dropped.
    contract = await uow.contracts.get(contract_id, for_update=True)
    if contract is None:
        raise ContractNotFound(f"There is no contract {contract_id}.")
    return contract
