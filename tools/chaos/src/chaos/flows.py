"""The payment flows a chaos run drives through the real APIs and the emulator, each as its
own student and coach. Calls are retried across replicas while faults are under way; a flow
that still cannot go on is reported as a flow error (the checker judges the money)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from skileez_system.client import Actor, Answer, Parties
from skileez_system.system import System
from skileez_web.auth import Role
from stripe_emulator.testing import EmulatorControl

PATIENCE = 120.0
"""Seconds a flow waits for one step (a replica restarting, the broker back) before giving up."""

RETRIED = frozenset({429, 500, 502, 503, 504})


class FlowError(Exception):
    """A flow that could not go on: what it waited for, or the answer it got."""


@dataclass
class Driver:
    http: aiohttp.ClientSession
    system: System
    emulator: EmulatorControl
    rng: random.Random

    def parties(self) -> Parties:
        return Parties(*(Actor(self.http, self.system, role) for role in Role))

    async def call(
        self,
        actor: Actor,
        method: str,
        service: str,
        path: str,
        json: Any = None,
        headers: dict[str, str] | None = None,
        expect: tuple[int, ...] = (200, 201),
    ) -> Answer:
        """`actor`'s call on any replica, retried on another while it is down or unready."""
        deadline = time.monotonic() + PATIENCE
        replicas = self.system.config.replicas
        replica = self.rng.randrange(replicas)
        while True:
            try:
                answer = await actor.call(method, service, path, json, replica, headers)
                if answer.status in expect:
                    return answer
                if answer.status not in RETRIED:
                    raise FlowError(f"{method} {service}{path}: {answer.status} {answer.body}")
                last = f"{answer.status}"
            except (aiohttp.ClientError, TimeoutError) as error:
                last = repr(error)
            if time.monotonic() > deadline:
                raise FlowError(f"{method} {service}{path}: still {last} after {PATIENCE} s")
            replica = (replica + 1) % replicas
            await asyncio.sleep(0.3)

    async def until(self, what: str, probe: Callable[[], Awaitable[Any]]) -> Any:
        deadline = time.monotonic() + PATIENCE
        while not (value := await probe()):
            if time.monotonic() > deadline:
                raise FlowError(f"{what}: not within {PATIENCE} s")
            await asyncio.sleep(0.3)
        return value

    async def stripe(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The emulator (never faulted), retried only on connection errors."""
        async with self.http.request(
            method,
            f"{self.system.url('emulator')}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.system.config.stripe_secret_key}"},
        ) as response:
            if response.status >= 300:
                raise FlowError(f"{method} {path}: {response.status} {await response.text()}")
            return await response.json()


# -- steps ---------------------------------------------------------------------------------


async def pending_contract(driver: Driver, parties: Parties) -> Any:
    sessions = driver.rng.randint(2, 6)
    proposal = await driver.call(
        parties.coach,
        "POST",
        "contracts",
        "/proposals",
        {
            "student_id": parties.student.user_id,
            "title": "Chaos lessons",
            "description": "Driven by the chaos run",
            "session_count": sessions,
            "price_per_session": driver.rng.choice([1_500, 4_500, 9_900]),
            "currency": driver.rng.choice(["eur", "usd"]),
        },
        expect=(201,),
    )
    pid = proposal.body["id"]
    # 409 (already accepted): a retry whose first attempt went through, its answer lost.
    await driver.call(
        parties.student, "POST", "contracts", f"/proposals/{pid}/accept", expect=(200, 409)
    )
    contract = await driver.call(
        parties.student,
        "POST",
        "contracts",
        "/contracts",
        {"proposal_id": pid},
        expect=(201, 409),
    )
    if contract.status == 409:  # a retry whose first attempt made the contract, its answer lost
        if contract.body.get("code") != "contract_exists":
            raise FlowError(f"POST contracts/contracts: 409 {contract.body}")
        made = contract.body["contract_id"]
        contract = await driver.call(parties.student, "GET", "contracts", f"/contracts/{made}")
    return contract.body


async def checkout(driver: Driver, parties: Parties, contract_id: str) -> Any:
    """Press Pay, waiting (404) until payments has learnt the contract."""

    async def pay() -> Any:
        answer = await driver.call(
            parties.student,
            "POST",
            "payments",
            f"/contracts/{contract_id}/pay",
            expect=(200, 201, 404),
        )
        return None if answer.status == 404 else answer.body

    return await driver.until(f"checkout of {contract_id}", pay)


async def payment_where(driver: Driver, parties: Parties, payment_id: str, **want: Any) -> Any:
    async def probe() -> Any:
        answer = await driver.call(parties.admin, "GET", "payments", f"/payments/{payment_id}")
        return answer.body if all(answer.body.get(k) == v for k, v in want.items()) else None

    return await driver.until(f"payment {payment_id} {want}", probe)


async def contract_where(driver: Driver, parties: Parties, contract_id: str, **want: Any) -> Any:
    async def probe() -> Any:
        answer = await driver.call(parties.student, "GET", "contracts", f"/contracts/{contract_id}")
        return answer.body if all(answer.body.get(k) == v for k, v in want.items()) else None

    return await driver.until(f"contract {contract_id} {want}", probe)


async def complete(
    driver: Driver, parties: Parties, contract_id: str, paid: Any, outcome: str
) -> Any:
    """Pay the session at the emulator; half the time hit the success page at the same moment
    as the webhooks (the student's browser returning)."""
    session_id = paid["checkout_session_id"]
    completion = driver.emulator.complete_session(session_id, outcome)
    if driver.rng.random() < 0.5:
        page = driver.call(
            parties.student,
            "GET",
            "payments",
            f"/contracts/{contract_id}/payment-success?session_id={session_id}",
            expect=(200, 303, 400, 404, 409, 422),
        )
        done, _ = await asyncio.gather(completion, page)
        return done
    return await completion


async def paid_contract(driver: Driver, parties: Parties) -> tuple[Any, Any, Any]:
    contract = await pending_contract(driver, parties)
    pay = await checkout(driver, parties, contract["id"])
    done = await complete(driver, parties, contract["id"], pay, "paid")
    await contract_where(driver, parties, contract["id"], status="active", payment_status="paid")
    return contract, pay, done


def a_slot(days: int, hour: int) -> dict[str, Any]:
    starts = (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )
    return {"starts_at": starts.isoformat(), "duration_minutes": 60}


# -- flows ---------------------------------------------------------------------------------


async def card(driver: Driver, parties: Parties) -> None:
    await paid_contract(driver, parties)


async def declined_then_paid(driver: Driver, parties: Parties) -> None:
    contract = await pending_contract(driver, parties)
    pay = await checkout(driver, parties, contract["id"])
    await complete(driver, parties, contract["id"], pay, "declined")
    await contract_where(driver, parties, contract["id"], payment_status="failed")
    retry = await checkout(driver, parties, contract["id"])
    await complete(driver, parties, contract["id"], retry, "paid")
    await contract_where(driver, parties, contract["id"], status="active", payment_status="paid")


async def _delayed(driver: Driver, parties: Parties, outcome: str) -> None:
    contract = await pending_contract(driver, parties)
    pay = await checkout(driver, parties, contract["id"])
    await complete(driver, parties, contract["id"], pay, "pending_async")
    await payment_where(driver, parties, pay["payment_id"], status="processing")
    await driver.emulator.settle(pay["checkout_session_id"], outcome)
    status = "succeeded" if outcome == "succeeded" else "failed"
    await payment_where(driver, parties, pay["payment_id"], status=status)


async def delayed_success(driver: Driver, parties: Parties) -> None:
    await _delayed(driver, parties, "succeeded")


async def delayed_failure(driver: Driver, parties: Parties) -> None:
    await _delayed(driver, parties, "failed")


async def expired_then_paid(driver: Driver, parties: Parties) -> None:
    contract = await pending_contract(driver, parties)
    first = await checkout(driver, parties, contract["id"])
    await driver.stripe("POST", f"/v1/checkout/sessions/{first['checkout_session_id']}/expire")
    await payment_where(driver, parties, first["payment_id"], status="expired")
    second = await checkout(driver, parties, contract["id"])
    await complete(driver, parties, contract["id"], second, "paid")
    await contract_where(driver, parties, contract["id"], status="active", payment_status="paid")


async def _refund(driver: Driver, parties: Parties, partial: bool) -> None:
    contract, pay, _ = await paid_contract(driver, parties)
    body = {"amount": contract["amount"] // 3} if partial else {}
    key = str(uuid.uuid4())
    for _ in range(2):  # a retried request with its key refunds once
        await driver.call(
            parties.admin,
            "POST",
            "payments",
            f"/payments/{pay['payment_id']}/refunds",
            body,
            headers={"Idempotency-Key": key},
            expect=(200, 201, 202),
        )
    status = "partially_refunded" if partial else "refunded"
    await payment_where(driver, parties, pay["payment_id"], status=status)
    if not partial:
        await contract_where(driver, parties, contract["id"], status="cancelled")


async def partial_refund(driver: Driver, parties: Parties) -> None:
    await _refund(driver, parties, partial=True)


async def full_refund(driver: Driver, parties: Parties) -> None:
    await _refund(driver, parties, partial=False)


async def _dispute(driver: Driver, parties: Parties, outcome: str) -> None:
    contract, pay, done = await paid_contract(driver, parties)
    dispute = await driver.emulator.dispute(done["charge"]["id"])
    await payment_where(driver, parties, pay["payment_id"], status="disputed")
    await driver.emulator.close_dispute(dispute["id"], outcome)
    await payment_where(driver, parties, pay["payment_id"], dispute_outcome=outcome)
    if outcome == "lost":
        await contract_where(driver, parties, contract["id"], status="cancelled")


async def dispute_won(driver: Driver, parties: Parties) -> None:
    await _dispute(driver, parties, "won")


async def dispute_lost(driver: Driver, parties: Parties) -> None:
    await _dispute(driver, parties, "lost")


async def booked_and_cancelled(driver: Driver, parties: Parties) -> None:
    contract, _, _ = await paid_contract(driver, parties)

    async def book(slot: dict[str, Any]) -> Any:
        answer = await driver.call(
            parties.student,
            "POST",
            "scheduling",
            f"/contracts/{contract['id']}/sessions",
            slot,
            expect=(201, 402, 404, 409),
        )
        if answer.status == 409 and answer.body.get("code") == "overlap":
            return await booked_already(slot)  # a retry whose first attempt went through
        return answer.body if answer.status == 201 else None

    async def booked_already(slot: dict[str, Any]) -> Any:
        listed = await driver.call(
            parties.student, "GET", "scheduling", f"/contracts/{contract['id']}/sessions"
        )
        starts = datetime.fromisoformat(slot["starts_at"])
        return next(
            (
                session
                for session in listed.body["sessions"]
                if datetime.fromisoformat(session["starts_at"]) == starts
                and session["status"] == "scheduled"
            ),
            None,
        )

    first = await driver.until("a booking", lambda: book(a_slot(3, 10)))
    await driver.until("a second booking", lambda: book(a_slot(4, 10)))
    await driver.call(parties.student, "POST", "scheduling", f"/sessions/{first['id']}/cancel")


async def held_and_reviewed(driver: Driver, parties: Parties) -> None:
    """Paid twice: the first session's webhooks lost and the session forgotten at Stripe, so
    payments opens a second; whichever of the two payments pays the contract second (the first,
    once reconciliation finds its money, or the second, when the first's completion got through
    meanwhile) is held, and the admin refunds it at review. When the first completion gets
    through before the second session is opened, the contract is simply paid once; when
    payments offers the first attempt again, its money makes it succeeded, or held (then
    refunded at review, and the contract paid anew)."""
    contract = await pending_contract(driver, parties)
    first = await checkout(driver, parties, contract["id"])
    await driver.emulator.drop_next_deliveries(4)  # the four events paying a session emits
    await driver.emulator.complete_session(first["checkout_session_id"], "paid")
    await driver.emulator.forget_session(first["checkout_session_id"])
    second = await driver.call(
        parties.student,
        "POST",
        "payments",
        f"/contracts/{contract['id']}/pay",
        expect=(200, 201, 409),
    )
    if second.status == 409 or second.body["payment_id"] == first["payment_id"]:
        # Paid already, or the first attempt offered again (its page was still valid): the
        # forgotten session's money makes it succeeded, or held when it was abandoned first.
        settled = await settled_payment(driver, parties, first["payment_id"])
        if settled["status"] == "held_for_review":
            await refund_at_review(driver, parties, first["payment_id"])
            await complete(
                driver,
                parties,
                contract["id"],
                await checkout(driver, parties, contract["id"]),
                "paid",
            )
            await contract_where(
                driver, parties, contract["id"], status="active", payment_status="paid"
            )
        return
    await complete(driver, parties, contract["id"], second.body, "paid")
    await contract_where(driver, parties, contract["id"], status="active", payment_status="paid")
    both = (first["payment_id"], second.body["payment_id"])

    async def held() -> Any:
        for payment_id in both:
            answer = await driver.call(parties.admin, "GET", "payments", f"/payments/{payment_id}")
            if answer.body.get("status") == "held_for_review":
                return payment_id
        return None

    duplicate = await driver.until(f"one of payments {both} held", held)
    await refund_at_review(driver, parties, duplicate)
    [kept] = [payment_id for payment_id in both if payment_id != duplicate]
    await payment_where(driver, parties, kept, status="succeeded")


async def settled_payment(driver: Driver, parties: Parties, payment_id: str) -> Any:
    async def probe() -> Any:
        answer = await driver.call(parties.admin, "GET", "payments", f"/payments/{payment_id}")
        return answer.body if answer.body["status"] in ("succeeded", "held_for_review") else None

    return await driver.until(f"payment {payment_id} succeeded or held", probe)


async def refund_at_review(driver: Driver, parties: Parties, payment_id: str) -> None:
    await driver.call(
        parties.admin,
        "POST",
        "payments",
        f"/payments/{payment_id}/review",
        {"decision": "refund", "note": "Paid twice during the chaos run"},
    )
    await payment_where(driver, parties, payment_id, status="refunded")


FLOW_STEPS: dict[str, Callable[[Driver, Parties], Awaitable[None]]] = {
    "held_and_reviewed": held_and_reviewed,
    "card": card,
    "declined_then_paid": declined_then_paid,
    "delayed_success": delayed_success,
    "delayed_failure": delayed_failure,
    "expired_then_paid": expired_then_paid,
    "partial_refund": partial_refund,
    "full_refund": full_refund,
    "dispute_won": dispute_won,
    "dispute_lost": dispute_lost,
    "booked_and_cancelled": booked_and_cancelled,
}
