"""Contracts cancelled (ContractCancelled from contracts) on real PostgreSQL and RabbitMQ, with
the Stripe emulator: the refund owed, once however often it arrives; a refund Stripe refuses
held for an operator; a withdrawn contract's session expired, and a late payment held and
refundable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from skileez_db.connections import transaction
from skileez_events import ContractCancelled, ContractCreated, new_event
from skileez_events.testing import wait_until
from skileez_events.topology import declare_exchanges
from skileez_payments.adapters.tables import inbox
from skileez_payments.adapters.unit_of_work import PostgresUnitOfWork
from skileez_payments.entrypoints.resources import CONSUMER, ENGINE, refunding
from skileez_payments.service_layer.cancellations import end_contract
from skileez_web.auth import Role

from .conftest import STRIPE_KEY, Payments
from .test_flows import published_types, start, success_path, wait_for_status


class Crashed(Exception):
    """The process died before its transaction committed."""


async def handled_then_crashed(payments: Payments, owed: ContractCancelled) -> None:
    async with transaction(payments.app[ENGINE]) as connection:
        await end_contract(owed, PostgresUnitOfWork(connection), refunding(payments.app))
        raise Crashed


def admin(payments: Payments) -> dict[str, str]:
    return payments.headers("admin-1", Role.ADMIN)


def cancellation(
    contract: ContractCreated,
    refund_amount: int,
    payment_id: str | None,
    by: str = "student",
) -> ContractCancelled:
    return ContractCancelled(
        contract_id=contract.contract_id,
        reason="Moving abroad",
        cancelled_at=datetime.now(UTC),
        cancelled_by=contract.student_id if by == "student" else contract.coach_id,
        refund_amount=refund_amount,
        payment_id=uuid.UUID(payment_id) if payment_id else None,
    )


async def publish(payments: Payments, data: ContractCancelled, copies: int = 1) -> str:
    """Publish as contracts would, `copies` times; wait until payments has handled it."""
    envelope = new_event(data, subject=str(data.contract_id))
    await wait_until(lambda: payments.app[CONSUMER].ready)
    async with await aio_pika.connect(payments.amqp_url) as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = (await declare_exchanges(channel, payments.names))["contracts"]
        for _ in range(copies):
            await exchange.publish(
                aio_pika.Message(envelope.to_json(), message_id=envelope.id),
                routing_key=envelope.type,
            )

    async def handled() -> bool:
        async with AsyncSession(payments.app[ENGINE]) as session:
            found = await session.scalar(
                select(func.count()).where(inbox.table.c.event_id == envelope.id)
            )
        return found == 1

    await wait_until(handled)
    await payments.app[CONSUMER].drain()
    return envelope.id


async def stripe_get(payments: Payments, path: str, **params: str) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{payments.emulator.base_url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {STRIPE_KEY}"},
        ) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


async def refunds_at_stripe(payments: Payments, payment_id: str) -> list[dict[str, Any]]:
    intent = (await payments.payment(payment_id))["payment_intent_id"]
    listed = await stripe_get(payments, "/v1/refunds", payment_intent=intent, limit="100")
    refunds: list[dict[str, Any]] = listed["data"]
    return refunds


async def paid(payments: Payments) -> tuple[ContractCreated, dict[str, Any], dict[str, Any]]:
    """A contract of 10 sessions for 500.00 EUR, paid at the emulator: (contract, checkout,
    what the emulator answered)."""
    contract, checkout = await start(payments)
    completed = await payments.emulator.complete_session(checkout["checkout_session_id"], "paid")
    await wait_for_status(payments, checkout["payment_id"], "succeeded")
    return contract, checkout, completed


async def cancellation_of(payments: Payments, contract: ContractCreated) -> dict[str, Any]:
    response = await payments.client.get(
        f"/contracts/{contract.contract_id}/cancellation",
        headers=payments.headers(contract.student_id),
    )
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_a_cancellation_refunds_exactly_what_it_owes_once_however_often_it_comes(
    payments: Payments,
) -> None:
    contract, checkout, _ = await paid(payments)
    owed = cancellation(contract, 40_000, checkout["payment_id"])
    # A first handling that crashed after asking Stripe (its transaction rolled back)...
    with pytest.raises(Crashed):
        await handled_then_crashed(payments, owed)
    assert await refunds_at_stripe(payments, checkout["payment_id"]) != []
    # ... then the event, delivered three times at once, and once more later.
    await publish(payments, owed, copies=3)
    await publish(payments, owed)
    await wait_for_status(payments, checkout["payment_id"], "partially_refunded")

    [refund] = await refunds_at_stripe(payments, checkout["payment_id"])
    assert (refund["amount"], refund["status"]) == (40_000, "succeeded")
    assert (await payments.payment(checkout["payment_id"]))["amount_refunded"] == 40_000
    assert await published_types(payments) == ["PaymentSucceeded", "PaymentRefunded"]
    found = await cancellation_of(payments, contract)
    assert (found["refund_status"], found["refund_amount"], found["stripe_refund_id"]) == (
        "asked",
        40_000,
        refund["id"],
    )
    again = await payments.pay(contract)
    assert (again.status, (await again.json())["code"]) == (409, "contract_cancelled")

    page = await payments.client.get(
        success_path(contract, checkout),
        headers=payments.headers(contract.student_id, Accept="text/html"),
    )
    text = await page.text()
    assert "This contract was cancelled" in text
    assert "€400.00" in text
    assert 'id="refund-state">refunded' in text


async def test_a_refund_stripe_refuses_during_a_dispute_is_held_then_retried_by_an_operator(
    payments: Payments,
) -> None:
    contract, checkout, completed = await paid(payments)
    dispute = await payments.emulator.dispute(completed["charge"]["id"])
    await wait_for_status(payments, checkout["payment_id"], "disputed")

    await publish(payments, cancellation(contract, 45_000, checkout["payment_id"], by="coach"))
    held = await cancellation_of(payments, contract)
    assert held["refund_status"] == "held"
    assert held["held_reason"].startswith("Stripe refused (charge_disputed)")
    assert await refunds_at_stripe(payments, checkout["payment_id"]) == []
    listed = await payments.client.get("/cancellations/held-refunds", headers=admin(payments))
    assert [c["contract_id"] for c in (await listed.json())["cancellations"]] == [
        str(contract.contract_id)
    ]
    page = await payments.client.get(
        f"/contracts/{contract.contract_id}/pay",
        headers=payments.headers(contract.student_id, Accept="text/html"),
    )
    assert 'id="refund-state">being checked' in await page.text()

    decision = f"/contracts/{contract.contract_id}/cancellation/refund-decision"
    student = await payments.client.post(
        decision,
        json={"decision": "retry", "note": "mine"},
        headers=payments.headers(contract.student_id),
    )
    assert student.status == 403
    early = await payments.client.post(
        decision, json={"decision": "retry", "note": "try now"}, headers=admin(payments)
    )
    assert early.status == 200, await early.text()
    assert (await early.json())["refund_status"] == "held"  # Stripe still refuses: held again

    await payments.emulator.close_dispute(dispute["id"], "won")
    await wait_for_status(payments, checkout["payment_id"], "succeeded")
    retried = await payments.client.post(
        decision, json={"decision": "retry", "note": "dispute won"}, headers=admin(payments)
    )
    body = await retried.json()
    assert (body["refund_status"], body["decided_by"], body["decision_note"]) == (
        "asked",
        "admin-1",
        "dispute won",
    )
    await wait_for_status(payments, checkout["payment_id"], "partially_refunded")
    assert [r["amount"] for r in await refunds_at_stripe(payments, checkout["payment_id"])] == [
        45_000
    ]
    after = await payments.client.post(
        decision, json={"decision": "drop", "note": "x"}, headers=admin(payments)
    )
    assert (after.status, (await after.json())["code"]) == (409, "not_held_for_review")


async def test_a_withdrawn_contract_expires_its_session_and_takes_no_payment(
    payments: Payments,
) -> None:
    contract, checkout = await start(payments)
    await publish(payments, cancellation(contract, 0, None, by="coach"))
    session = await stripe_get(payments, f"/v1/checkout/sessions/{checkout['checkout_session_id']}")
    assert session["status"] == "expired"
    await wait_for_status(payments, checkout["payment_id"], "expired")
    assert (await cancellation_of(payments, contract))["refund_status"] == "none"
    refused = await payments.pay(contract)
    assert (refused.status, (await refused.json())["code"]) == (409, "contract_cancelled")
    page = await payments.client.get(
        f"/contracts/{contract.contract_id}/pay",
        headers=payments.headers(contract.student_id, Accept="text/html"),
    )
    text = await page.text()
    assert "This contract was cancelled" in text
    assert "nothing was paid" in text
    assert "Pay €" not in text


async def test_a_late_payment_of_a_withdrawn_contract_is_held_and_refundable(
    payments: Payments,
) -> None:
    contract, checkout = await start(payments)
    await payments.emulator.drop_next_deliveries(100)  # paid, and payments not told yet
    await payments.emulator.complete_session(checkout["checkout_session_id"], "paid")
    await publish(payments, cancellation(contract, 0, None, by="coach"))

    late = await payments.payment(checkout["payment_id"])
    assert (late["status"], late["review_reason"]) == (
        "held_for_review",
        "paid after the contract was cancelled",
    )
    assert "PaymentSucceeded" not in await published_types(payments)
    approve = await payments.client.post(
        f"/payments/{checkout['payment_id']}/review",
        json={"decision": "approve", "note": "no"},
        headers=admin(payments),
    )
    assert (approve.status, (await approve.json())["code"]) == (409, "cannot_approve")
    refund = await payments.client.post(
        f"/payments/{checkout['payment_id']}/review",
        json={"decision": "refund", "note": "contract withdrawn"},
        headers=admin(payments),
    )
    assert refund.status == 200, await refund.text()
    await payments.emulator.set_normal_delivery()
    await payments.emulator.drop_next_deliveries(0)
    [back] = await refunds_at_stripe(payments, checkout["payment_id"])
    assert back["amount"] == contract.amount


async def test_a_payment_counted_by_no_one_when_the_contract_was_withdrawn_is_refunded_whole(
    payments: Payments,
) -> None:
    contract, checkout, _ = await paid(payments)  # contracts had not heard of it: withdrawn
    await publish(payments, cancellation(contract, 0, None, by="student"))
    await wait_for_status(payments, checkout["payment_id"], "refunded")
    [refund] = await refunds_at_stripe(payments, checkout["payment_id"])
    assert refund["amount"] == contract.amount
    found = await cancellation_of(payments, contract)
    assert (found["refund_status"], found["refund_amount"]) == ("asked", contract.amount)


async def test_a_cancellation_before_its_contract_is_learnt_still_closes_it(
    payments: Payments,
) -> None:
    contract = ContractCreated(
        contract_id=uuid.uuid4(),
        proposal_id=uuid.uuid4(),
        student_id="student-early",
        coach_id="coach-early",
        title="Chess",
        session_count=2,
        amount=10_000,
        currency="eur",
        created_at=datetime.now(UTC),
    )
    await publish(payments, cancellation(contract, 0, None, by="coach"))
    await payments.learn_contract(**contract.model_dump())
    refused = await payments.pay(contract)
    assert (refused.status, (await refused.json())["code"]) == (409, "contract_cancelled")
