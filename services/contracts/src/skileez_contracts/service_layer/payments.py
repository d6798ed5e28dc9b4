"""What the payments service tells us: a contract's payment succeeded, waits for the bank,
failed, was refunded or disputed, and how the dispute closed.

Each handler runs in the inbox consumer's transaction, so one event is applied at most once;
the contract's row lock makes different events about one contract apply one after the other,
and the aggregate's guards make their order harmless. News of a payment (a refund, a dispute)
that comes before any payment pays the contract waits, stored, for that payment's success,
and is applied then: it is never taken for news of the contract before its payment is known.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from skileez_contracts.domain.contract import Contract
from skileez_contracts.domain.errors import ContractNotFound
from skileez_contracts.service_layer.unit_of_work import PaymentNews, UnitOfWork
from skileez_events import (
    PaymentDisputeClosed,
    PaymentDisputed,
    PaymentFailed,
    PaymentProcessing,
    PaymentRefunded,
    PaymentSucceeded,
)


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
    for waiting in await uow.waiting_events.take(payment.payment_id):
        _apply(waiting.news, contract)
        await uow.save(contract, cause=waiting)


async def record_payment_processing(processing: PaymentProcessing, uow: UnitOfWork) -> None:
    contract = await _locked_contract(processing.contract_id, uow)
    contract.mark_payment_processing(
        payment_id=processing.payment_id, processing_at=processing.processing_at
    )
    await uow.save(contract)


async def record_payment_failed(failure: PaymentFailed, uow: UnitOfWork) -> None:
    contract = await _locked_contract(failure.contract_id, uow)
    contract.mark_payment_failed(
        payment_id=failure.payment_id, reason=failure.reason, failed_at=failure.failed_at
    )
    await uow.save(contract)


async def record_payment_refunded(refund: PaymentRefunded, uow: UnitOfWork) -> None:
    await _record_payment_news(refund, uow)


async def record_payment_disputed(dispute: PaymentDisputed, uow: UnitOfWork) -> None:
    await _record_payment_news(dispute, uow)


async def record_payment_dispute_closed(closure: PaymentDisputeClosed, uow: UnitOfWork) -> None:
    await _record_payment_news(closure, uow)


async def _record_payment_news(news: PaymentNews, uow: UnitOfWork) -> None:
    contract = await _locked_contract(news.contract_id, uow)
    if contract.awaits_success_of(news.payment_id):
        await uow.waiting_events.keep(news)
        return
    _apply(news, contract)
    await uow.save(contract)


def _apply(news: PaymentNews, contract: Contract) -> None:
    match news:
        case PaymentRefunded():
            contract.mark_payment_refunded(
                payment_id=news.payment_id,
                refund_amount=news.refund_amount,
                total_refunded=news.total_refunded,
                currency=news.currency,
                fully_refunded=news.fully_refunded,
                refunded_at=news.refunded_at,
            )
        case PaymentDisputed():
            contract.mark_payment_disputed(
                payment_id=news.payment_id,
                dispute_id=news.stripe_dispute_id,
                amount=news.amount,
                currency=news.currency,
                reason=news.reason,
                disputed_at=news.disputed_at,
            )
        case PaymentDisputeClosed():
            contract.close_dispute(
                payment_id=news.payment_id,
                dispute_id=news.stripe_dispute_id,
                won=news.outcome == "won",
                closed_at=news.closed_at,
            )


async def _locked_contract(contract_id: uuid.UUID, uow: UnitOfWork) -> Contract:
    # An unknown contract is an error, not a no-op: the message is dead-lettered, not dropped.
    contract = await uow.contracts.get(contract_id, for_update=True)
    if contract is None:
        raise ContractNotFound(f"There is no contract {contract_id}.")
    return contract
