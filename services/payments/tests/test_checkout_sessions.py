"""One payable session per contract, against the Stripe emulator: a replaced session is expired
at Stripe, a completed or forgotten one is never offered again; and the pages of a contract on
its way or with money in flight tell the truth."""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from skileez_events import ContractCreated
from skileez_events.testing import wait_until
from skileez_payments.adapters.tables import payments as payments_table
from skileez_payments.domain.contract_payments import CONTRACT_WAIT, REUSE_MARGIN_SECONDS
from skileez_payments.entrypoints.resources import ENGINE
from stripe_emulator.testing import EmulatorRefusal

from .conftest import STRIPE_KEY, Payments


async def stripe_session(payments: Payments, session_id: str) -> dict[str, Any]:
    """The session as Stripe (the emulator) has it, through its API."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{payments.emulator.base_url}/v1/checkout/sessions/{session_id}",
            headers={"Authorization": f"Bearer {STRIPE_KEY}"},
        ) as response,
    ):
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body


async def checkout(payments: Payments, contract: ContractCreated, status: int) -> dict[str, Any]:
    response = await payments.pay(contract)
    assert response.status == status, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def status_becomes(payments: Payments, payment_id: str, status: str) -> None:
    async def reached() -> bool:
        return (await payments.payment(payment_id))["status"] == status

    await wait_until(reached)


def html(payments: Payments, user: str) -> dict[str, str]:
    return payments.headers(user, Accept="text/html")


# Point 2


async def test_a_session_replaced_near_its_expiry_is_expired_at_stripe(payments: Payments) -> None:
    contract = await payments.learn_contract()
    first = await checkout(payments, contract, 201)
    # The first session now ends within the reuse margin: it is not offered again.
    async with AsyncSession(payments.app[ENGINE]) as session:
        await session.execute(
            update(payments_table)
            .where(payments_table.c.id == uuid.UUID(first["payment_id"]))
            .values(
                expires_at=payments_table.c.expires_at
                - timedelta(minutes=31)
                + timedelta(seconds=REUSE_MARGIN_SECONDS // 2)
            )
        )
        await session.commit()
    second = await checkout(payments, contract, 201)
    assert second["checkout_session_id"] != first["checkout_session_id"]

    old = await stripe_session(payments, first["checkout_session_id"])
    assert old["status"] == "expired"
    with pytest.raises(EmulatorRefusal) as refused:
        await payments.emulator.complete_session(first["checkout_session_id"], "paid")
    assert refused.value.status == 400
    await status_becomes(payments, first["payment_id"], "expired")

    await payments.emulator.complete_session(second["checkout_session_id"], "paid")
    await status_becomes(payments, second["payment_id"], "succeeded")


# Point 3


async def test_after_a_delayed_payment_failed_a_new_session_is_paid(payments: Payments) -> None:
    contract = await payments.learn_contract()
    first = await checkout(payments, contract, 201)
    await payments.emulator.complete_session(
        first["checkout_session_id"], "pending_async", async_outcome="failed"
    )
    await status_becomes(payments, first["payment_id"], "processing")
    await payments.emulator.settle(first["checkout_session_id"], "failed")
    await status_becomes(payments, first["payment_id"], "failed")
    assert (await stripe_session(payments, first["checkout_session_id"]))["status"] == "complete"

    second = await checkout(payments, contract, 201)
    assert second["checkout_session_id"] != first["checkout_session_id"]
    await payments.emulator.complete_session(second["checkout_session_id"], "paid")
    await status_becomes(payments, second["payment_id"], "succeeded")


# Point 9


async def test_a_session_stripe_no_longer_knows_gives_way_to_a_new_one(payments: Payments) -> None:
    contract = await payments.learn_contract()
    first = await checkout(payments, contract, 201)
    await payments.emulator.forget_session(first["checkout_session_id"])

    second = await checkout(payments, contract, 201)
    assert second["checkout_session_id"] != first["checkout_session_id"]
    old = await payments.payment(first["payment_id"])
    assert (old["status"], old["failure_reason"]) == ("expired", "checkout_session_missing")
    await payments.emulator.complete_session(second["checkout_session_id"], "paid")
    await status_becomes(payments, second["payment_id"], "succeeded")


# Point 7: the pay page of a contract on its way


async def test_the_pay_page_of_a_contract_on_its_way_refreshes_until_it_is_known(
    payments: Payments,
) -> None:
    contract_id = uuid.uuid4()
    student = f"student-{contract_id.hex[:6]}"
    page = await payments.client.get(
        f"/contracts/{contract_id}/pay", headers=html(payments, student)
    )
    assert page.status == 200
    text = await page.text()
    assert "Your payment page is being prepared" in text
    assert "cannot find" not in text
    assert page.headers["Cache-Control"] == "no-store"
    refresh = re.search(r'http-equiv="refresh" content="(\d+);url=([^"]+)"', text)
    assert refresh is not None
    again = refresh.group(2).replace("&amp;", "&")
    assert again.startswith(f"/contracts/{contract_id}/pay?waiting_since=")
    assert abs(int(again.rsplit("=", 1)[1]) - time.time()) < 5

    api = await payments.client.get(
        f"/contracts/{contract_id}/pay", headers=payments.headers(student)
    )
    assert api.status == 404
    assert (await api.json())["code"] == "contract_not_found"

    await payments.learn_contract(contract_id=contract_id, student_id=student)
    known = await payments.client.get(again, headers=html(payments, student))
    assert known.status == 200
    assert re.search(r"<button[^>]*>Pay €500\.00</button>", await known.text())


async def test_a_contract_still_unknown_after_the_wait_is_a_real_404(payments: Payments) -> None:
    contract_id = uuid.uuid4()
    long_ago = int(time.time() - CONTRACT_WAIT.total_seconds() - 1)
    page = await payments.client.get(
        f"/contracts/{contract_id}/pay?waiting_since={long_ago}",
        headers=html(payments, "student-1"),
    )
    assert page.status == 404
    assert page.content_type == "text/html"
    text = await page.text()
    assert "We cannot find this contract" in text
    assert "There is no such contract." in text
    assert "refresh" not in text


# Point 7: honest pages while money is in flight


async def test_the_cancel_and_pay_pages_never_say_no_money_while_a_payment_processes(
    payments: Payments,
) -> None:
    contract = await payments.learn_contract()
    first = await checkout(payments, contract, 201)
    await payments.emulator.complete_session(first["checkout_session_id"], "pending_async")
    await status_becomes(payments, first["payment_id"], "processing")
    headers = html(payments, contract.student_id)

    cancel = await payments.client.get(
        f"/contracts/{contract.contract_id}/payment-cancel", headers=headers
    )
    text = await cancel.text()
    assert "Your payment is processing" in text
    assert "No money was taken" not in text
    assert "Try paying again" not in text

    pay = await payments.client.get(f"/contracts/{contract.contract_id}/pay", headers=headers)
    text = await pay.text()
    assert "is being processed by your bank" in text
    assert "<button" not in text


async def test_the_cancel_page_of_a_held_payment_says_it_is_being_checked(
    payments: Payments,
) -> None:
    contract = await payments.learn_contract()
    first = await checkout(payments, contract, 201)
    async with AsyncSession(payments.app[ENGINE]) as session:  # Stripe charged another amount
        await session.execute(
            update(payments_table)
            .where(payments_table.c.id == uuid.UUID(first["payment_id"]))
            .values(amount=contract.amount + 1)
        )
        await session.commit()
    await payments.emulator.complete_session(first["checkout_session_id"], "paid")
    await status_becomes(payments, first["payment_id"], "held_for_review")

    cancel = await payments.client.get(
        f"/contracts/{contract.contract_id}/payment-cancel",
        headers=html(payments, contract.student_id),
    )
    text = await cancel.text()
    assert "We are checking your payment" in text
    assert "No money was taken" not in text


async def test_the_success_page_does_not_say_the_coach_was_told(payments: Payments) -> None:
    contract = await payments.learn_contract()
    first = await checkout(payments, contract, 201)
    await payments.emulator.complete_session(first["checkout_session_id"], "paid")
    page = await payments.client.get(
        f"/contracts/{contract.contract_id}/payment-success"
        f"?session_id={first['checkout_session_id']}",
        headers=html(payments, contract.student_id),
    )
    text = await page.text()
    assert "Thank you, your payment is confirmed" in text
    assert "has been told" not in text
    assert "your coach is told as soon as it is" in text
