"""Every webhook branch, with signed payloads built from Stripe's fixtures."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from skileez_db.connections import connection, transaction
from skileez_events import CloudEvent
from skileez_events.testing import tap, wait_until
from skileez_payments.adapters import stripe_objects
from skileez_payments.adapters.repositories import PaymentRepository
from skileez_payments.adapters.tables import outbox, stripe_events
from skileez_payments.adapters.tables import payments as payments_table
from skileez_payments.adapters.unit_of_work import PostgresUnitOfWork
from skileez_payments.entrypoints.resources import ENGINE, WEBHOOKS, utc_now
from skileez_payments.service_layer.stripe_events import lock_payments_ahead, process_stripe_event

from . import stripe_payloads as sp
from .conftest import OLD_WEBHOOK_SECRET, WEBHOOK_SECRET, Payments


class Checkout:
    """A contract with an open Checkout Session, created through the emulator."""

    def __init__(self, payments: Payments, contract: Any, body: dict[str, Any]) -> None:
        self.payments = payments
        self.contract = contract
        self.payment_id: str = body["payment_id"]
        self.session_id: str = body["checkout_session_id"]
        self.intent_id = f"pi_{uuid.uuid4().hex[:24]}"

    def session(self, **overrides: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "contract_id": str(self.contract.contract_id),
            "payment_id": self.payment_id,
            "amount": self.contract.amount,
            "currency": self.contract.currency,
            "payment_intent": self.intent_id,
            **overrides,
        }
        return sp.checkout_session(self.session_id, **values)

    def completed(self, **overrides: Any) -> dict[str, Any]:
        return sp.event("checkout.session.completed", self.session(**overrides))

    def charge(self, amount_refunded: int, refund_ids: list[str]) -> dict[str, Any]:
        return sp.charge(
            self.intent_id,
            amount=self.contract.amount,
            currency=self.contract.currency,
            amount_refunded=amount_refunded,
            refund_ids=refund_ids,
        )

    async def status(self) -> str:
        status: str = (await self.payments.payment(self.payment_id))["status"]
        return status

    async def deliver(self, event: dict[str, Any], expected: int = 200) -> dict[str, Any]:
        response = await self.payments.post_webhook(event)
        assert response.status == expected, await response.text()
        body: dict[str, Any] = await response.json()
        return body


async def open_checkout(payments: Payments, **contract: Any) -> Checkout:
    learnt = await payments.learn_contract(**contract)
    response = await payments.pay(learnt)
    assert response.status == 201, await response.text()
    return Checkout(payments, learnt, await response.json())


async def stored_events(payments: Payments) -> int:
    async with AsyncSession(payments.app[ENGINE]) as session:
        return int(await session.scalar(select(func.count()).select_from(stripe_events)) or 0)


async def outbox_types(payments: Payments) -> list[str]:
    async with AsyncSession(payments.app[ENGINE]) as session:
        rows = await session.scalars(select(outbox.table.c.event_type).order_by(outbox.table.c.seq))
        return [row.split(".")[2] for row in rows]


async def test_completed_and_paid_succeeds_once_with_the_stored_correlation(
    payments: Payments,
) -> None:
    checkout = await open_checkout(payments)
    event = checkout.completed()
    async with tap(payments.amqp_url, payments.names, "skileez.payments.#") as published:
        assert (await checkout.deliver(event))["outcome"] == "processed"
        assert (await checkout.deliver(event))["outcome"] == "duplicate"
        await wait_until(lambda: published)
    assert await checkout.status() == "succeeded"
    envelope = CloudEvent.from_json(published[0].body)
    payment = await payments.payment(checkout.payment_id)
    assert envelope.correlationid == payment["correlation_id"]
    assert envelope.causationid == event["id"]
    assert envelope.data["stripe_payment_intent_id"] == checkout.intent_id
    assert await outbox_types(payments) == ["PaymentSucceeded"]


async def test_completed_unpaid_waits_then_async_success_activates(payments: Payments) -> None:
    checkout = await open_checkout(payments)
    await checkout.deliver(checkout.completed(payment_status="unpaid"))
    assert await checkout.status() == "processing"
    assert await outbox_types(payments) == ["PaymentProcessing"]
    again = await payments.pay(checkout.contract)
    assert again.status == 409
    assert (await again.json())["code"] == "payment_in_progress"
    succeeded = sp.event("checkout.session.async_payment_succeeded", checkout.session())
    await checkout.deliver(succeeded)
    assert await checkout.status() == "succeeded"
    assert await outbox_types(payments) == ["PaymentProcessing", "PaymentSucceeded"]


async def test_completed_unpaid_then_async_failure_fails(payments: Payments) -> None:
    checkout = await open_checkout(payments)
    await checkout.deliver(checkout.completed(payment_status="unpaid"))
    failed = sp.event(
        "checkout.session.async_payment_failed", checkout.session(payment_status="unpaid")
    )
    await checkout.deliver(failed)
    assert await checkout.status() == "failed"
    assert await outbox_types(payments) == ["PaymentProcessing", "PaymentFailed"]


async def test_no_payment_required_never_activates(payments: Payments) -> None:
    checkout = await open_checkout(payments)
    body = await checkout.deliver(
        checkout.completed(payment_status="no_payment_required", amount=0)
    )
    assert body["outcome"] == "held"
    assert await checkout.status() == "held_for_review"
    assert await outbox_types(payments) == ["PaymentHeld"]


@pytest.mark.parametrize(
    "mismatch",
    [{"amount": 1}, {"currency": "usd"}, {"livemode": True}],
    ids=["amount", "currency", "livemode"],
)
async def test_a_mismatch_is_held_for_review_and_never_activates(
    payments: Payments, mismatch: dict[str, Any]
) -> None:
    checkout = await open_checkout(payments)
    assert (await checkout.deliver(checkout.completed(**mismatch)))["outcome"] == "held"
    assert await checkout.status() == "held_for_review"
    # Even a correct event afterwards does not activate a held payment.
    await checkout.deliver(checkout.completed())
    assert await checkout.status() == "held_for_review"
    assert await outbox_types(payments) == ["PaymentHeld"]
    payment = await payments.payment(checkout.payment_id)
    assert payment["review_reason"]


async def test_expired_session_fails_the_attempt_and_a_new_one_can_start(
    payments: Payments,
) -> None:
    checkout = await open_checkout(payments)
    expired = sp.event(
        "checkout.session.expired", checkout.session(status="expired", payment_status="unpaid")
    )
    await checkout.deliver(expired)
    assert await checkout.status() == "expired"
    assert await outbox_types(payments) == ["PaymentFailed"]
    retry = await payments.pay(checkout.contract)
    assert retry.status == 201
    assert (await retry.json())["payment_id"] != checkout.payment_id


async def test_payment_intent_failure_fails_and_a_later_success_still_wins(
    payments: Payments,
) -> None:
    checkout = await open_checkout(payments)
    declined = sp.event(
        "payment_intent.payment_failed",
        sp.payment_intent(
            checkout.intent_id,
            payment_id=checkout.payment_id,
            contract_id=str(checkout.contract.contract_id),
        ),
    )
    await checkout.deliver(declined)
    payment = await payments.payment(checkout.payment_id)
    assert (payment["status"], payment["failure_reason"]) == ("failed", "card_declined")
    # The declined card left the session open: Pay offers the same page again.
    again = await payments.pay(checkout.contract)
    assert (await again.json())["checkout_session_id"] == checkout.session_id
    await checkout.deliver(checkout.completed())
    assert await checkout.status() == "succeeded"
    assert await outbox_types(payments) == ["PaymentFailed", "PaymentSucceeded"]


async def test_state_is_monotonic_a_late_failure_or_expiry_changes_nothing(
    payments: Payments,
) -> None:
    checkout = await open_checkout(payments)
    await checkout.deliver(checkout.completed())
    late = [
        sp.event(
            "payment_intent.payment_failed",
            sp.payment_intent(
                checkout.intent_id,
                payment_id=checkout.payment_id,
                contract_id=str(checkout.contract.contract_id),
            ),
        ),
        sp.event("checkout.session.expired", checkout.session(status="expired")),
        sp.event("checkout.session.async_payment_failed", checkout.session()),
    ]
    for event in late:
        await checkout.deliver(event)
    assert await checkout.status() == "succeeded"
    assert await outbox_types(payments) == ["PaymentSucceeded"]


async def test_partial_then_full_refund_is_cumulative_and_ignores_stale_totals(
    payments: Payments,
) -> None:
    checkout = await open_checkout(payments, amount=10_000)
    await checkout.deliver(checkout.completed())
    partial = sp.event("charge.refunded", checkout.charge(3_000, ["re_1"]))
    full = sp.event("charge.refunded", checkout.charge(10_000, ["re_1", "re_2"]))
    async with tap(payments.amqp_url, payments.names, "skileez.payments.PaymentRefunded.#") as got:
        await checkout.deliver(partial)
        payment = await payments.payment(checkout.payment_id)
        assert (payment["status"], payment["amount_refunded"]) == ("partially_refunded", 3_000)
        await checkout.deliver(full)
        await checkout.deliver(partial)  # a stale, smaller total arriving late: no effect
        await wait_until(lambda: len(got) >= 2)
    payment = await payments.payment(checkout.payment_id)
    assert (payment["status"], payment["amount_refunded"]) == ("refunded", 10_000)
    data = [CloudEvent.from_json(message.body).data for message in got]
    assert [(d["refund_amount"], d["total_refunded"], d["fully_refunded"]) for d in data] == [
        (3_000, 3_000, False),
        (7_000, 10_000, True),
    ]
    assert data[1]["stripe_refund_id"] == "re_2"
    assert await outbox_types(payments) == [
        "PaymentSucceeded",
        "PaymentRefunded",
        "PaymentRefunded",
    ]


async def test_a_refund_before_the_payment_is_known_paid_is_deferred_with_503(
    payments: Payments,
) -> None:
    checkout = await open_checkout(payments)
    await checkout.deliver(checkout.completed(payment_status="unpaid"))
    early = sp.event("charge.refunded", checkout.charge(100, ["re_early"]))
    await checkout.deliver(early, expected=503)
    await checkout.deliver(sp.event("checkout.session.async_payment_succeeded", checkout.session()))
    assert (await checkout.deliver(early))["outcome"] == "processed"
    assert (await payments.payment(checkout.payment_id))["amount_refunded"] == 100


WAITED_PROCESSED = ("skileez_stripe_events_waited_total", {"outcome": "processed"})


async def event_outcome(payments: Payments, event_id: str) -> str:
    async with AsyncSession(payments.app[ENGINE]) as session:
        outcome = await session.scalar(
            select(stripe_events.c.outcome).where(stripe_events.c.id == event_id)
        )
        return str(outcome)


@pytest.mark.parametrize("early_type", ["charge.refunded", "charge.dispute.created"])
async def test_a_refund_or_dispute_delivered_before_the_completion_applies_when_it_pays(
    payments: Payments, early_type: str
) -> None:
    """Made at Stripe while our webhook was failing, delivered first: it waits, recorded
    "unmatched", and the completion that makes its payment paid applies it."""
    checkout = await open_checkout(payments)
    waited = REGISTRY.get_sample_value(*WAITED_PROCESSED) or 0.0
    amount = checkout.contract.amount
    early = sp.event(
        early_type,
        checkout.charge(amount, ["re_early"])
        if early_type == "charge.refunded"
        else sp.dispute(checkout.intent_id, amount=amount, currency="eur"),
    )
    assert (await checkout.deliver(early))["outcome"] == "unmatched"
    assert (await checkout.deliver(checkout.completed()))["outcome"] == "processed"
    if early_type == "charge.refunded":
        assert await checkout.status() == "refunded"
        assert await outbox_types(payments) == ["PaymentSucceeded", "PaymentRefunded"]
    else:
        assert await checkout.status() == "disputed"
        assert await outbox_types(payments) == ["PaymentSucceeded", "PaymentDisputed"]
    assert await event_outcome(payments, early["id"]) == "processed"
    assert REGISTRY.get_sample_value(*WAITED_PROCESSED) == waited + 1
    assert (await checkout.deliver(early))["outcome"] == "duplicate"


async def test_a_delayed_failure_seen_before_its_completion_stays_failed(
    payments: Payments,
) -> None:
    """Chaos run, seed 4: the completion (unpaid), delivered after the failure, put the payment
    back to processing, where it stayed."""
    checkout = await open_checkout(payments)
    failed = sp.event(
        "checkout.session.async_payment_failed", checkout.session(payment_status="unpaid")
    )
    await checkout.deliver(failed)
    await checkout.deliver(checkout.completed(payment_status="unpaid"))
    assert await checkout.status() == "failed"
    assert await outbox_types(payments) == ["PaymentFailed"]


async def test_an_early_refund_waits_through_processing_for_the_async_success(
    payments: Payments,
) -> None:
    checkout = await open_checkout(payments)
    early = sp.event("charge.refunded", checkout.charge(100, ["re_early"]))
    assert (await checkout.deliver(early))["outcome"] == "unmatched"
    await checkout.deliver(checkout.completed(payment_status="unpaid"))  # links, not paid
    assert await checkout.status() == "processing"
    assert await event_outcome(payments, early["id"]) == "unmatched"
    await checkout.deliver(sp.event("checkout.session.async_payment_succeeded", checkout.session()))
    assert await checkout.status() == "partially_refunded"
    assert (await payments.payment(checkout.payment_id))["amount_refunded"] == 100
    assert await outbox_types(payments) == [
        "PaymentProcessing",
        "PaymentSucceeded",
        "PaymentRefunded",
    ]


@pytest.mark.parametrize("first", ["refund", "completion"])
async def test_a_refund_racing_its_completion_in_another_transaction_is_never_lost(
    payments: Payments, first: str
) -> None:
    """Each takes the PaymentIntent's lock before looking: the second waits for the first's
    commit, then sees its work (without the lock, each missed the other's)."""
    checkout = await open_checkout(payments)
    refund = sp.event("charge.refunded", checkout.charge(checkout.contract.amount, ["re_1"]))
    events = {"refund": refund, "completion": checkout.completed()}
    second = "completion" if first == "refund" else "refund"
    engine = payments.app[ENGINE]

    applied, commit = asyncio.Event(), asyncio.Event()

    async def apply(name: str) -> str:
        async with transaction(engine) as group:
            outcome = await process_stripe_event(
                stripe_objects.Event.model_validate(events[name]),
                PostgresUnitOfWork(group),
                payload=json.dumps(events[name]).encode(),
                source="webhook",
                livemode=False,
                clock=utc_now,
            )
            if name == first:
                applied.set()
                await commit.wait()
        return outcome

    first_done = asyncio.create_task(apply(first))
    await applied.wait()
    second_done = asyncio.create_task(apply(second))
    await asyncio.sleep(0.3)
    assert not second_done.done()  # it waits for the intent's lock
    commit.set()
    first_outcome, second_outcome = await first_done, await second_done
    if first == "refund":
        assert (first_outcome, second_outcome) == ("unmatched", "processed")
        assert await event_outcome(payments, refund["id"]) == "processed"
    else:
        assert (first_outcome, second_outcome) == ("processed", "processed")
    assert await checkout.status() == "refunded"
    assert await outbox_types(payments) == ["PaymentSucceeded", "PaymentRefunded"]


async def test_a_refund_grouped_with_its_completion_is_applied_after_it(
    payments: Payments,
) -> None:
    """Submitted together, they share a group, where refunds and disputes go last: the refund
    finds the payment its completion links (first, it would have waited in vain: the group
    read the waiting events before applying anything)."""
    checkout = await open_checkout(payments)
    refund = sp.event("charge.refunded", checkout.charge(checkout.contract.amount, ["re_1"]))
    webhooks = payments.app[WEBHOOKS]
    outcomes = await asyncio.gather(
        *(
            webhooks.submit(
                (stripe_objects.Event.model_validate(event), json.dumps(event).encode())
            )
            for event in (refund, checkout.completed())
        )
    )
    assert outcomes == ["processed", "processed"]
    assert await checkout.status() == "refunded"
    assert await outbox_types(payments) == ["PaymentSucceeded", "PaymentRefunded"]


async def test_a_dispute_marks_the_payment_disputed(payments: Payments) -> None:
    checkout = await open_checkout(payments)
    await checkout.deliver(checkout.completed())
    dispute = sp.dispute(checkout.intent_id, amount=checkout.contract.amount, currency="eur")
    await checkout.deliver(sp.event("charge.dispute.created", dispute))
    assert await checkout.status() == "disputed"
    again = await payments.pay(checkout.contract)
    assert again.status == 409


async def test_unknown_types_are_200_and_ignored_but_recorded(payments: Payments) -> None:
    plan = sp.fixture("event")
    plan["id"] = f"evt_{uuid.uuid4().hex}"
    plan["created"] = int(time.time())
    body = await (await payments.post_webhook(plan)).json()
    assert body == {"received": True, "outcome": "ignored"}
    assert await stored_events(payments) == 1


@pytest.mark.parametrize("spoil", ["missing_field", "other_kind"])
async def test_a_handled_type_with_an_unreadable_object_is_recorded_and_changes_nothing(
    payments: Payments, spoil: str
) -> None:
    checkout = await open_checkout(payments)
    event = checkout.completed()
    if spoil == "missing_field":
        del event["data"]["object"]["payment_status"]
    else:
        event["data"]["object"] = checkout.charge(0, [])  # a charge where a session belongs
    assert (await checkout.deliver(event))["outcome"] == "unreadable"
    assert (await checkout.deliver(event))["outcome"] == "duplicate"
    assert await stored_events(payments) == 1
    assert await checkout.status() == "open"
    assert await outbox_types(payments) == []


async def test_a_secret_being_rotated_out_still_verifies(payments: Payments) -> None:
    checkout = await open_checkout(payments)
    response = await payments.post_webhook(checkout.completed(), secret=OLD_WEBHOOK_SECRET)
    assert response.status == 200
    assert await checkout.status() == "succeeded"


@pytest.mark.parametrize(
    "spoil",
    ["wrong_secret", "old", "future", "tampered", "missing", "garbage", "not_ascii"],
)
async def test_a_bad_signature_is_400_and_nothing_is_stored(payments: Payments, spoil: str) -> None:
    checkout = await open_checkout(payments)
    body = json.dumps(checkout.completed()).encode()
    now = int(time.time())
    header: str | None = {
        "wrong_secret": sp.sign(body, "whsec_not_ours"),
        "old": sp.sign(body, WEBHOOK_SECRET, now - 301),
        "future": sp.sign(body, WEBHOOK_SECRET, now + 301),
        "tampered": sp.sign(body, WEBHOOK_SECRET),
        "missing": None,
        "garbage": "t=abc,v1=",
        "not_ascii": f"t={now},v1=\u00e9",
    }[spoil]
    sent = body.replace(b'"paid"', b'"unpaid"') if spoil == "tampered" else body
    headers = {} if header is None else {"Stripe-Signature": header}
    response = await payments.client.post("/webhooks/stripe", data=sent, headers=headers)
    assert response.status == 400
    problem = await response.json()
    assert problem["code"] == "invalid_signature"
    assert WEBHOOK_SECRET not in json.dumps(problem)
    assert await stored_events(payments) == 0
    assert await checkout.status() == "open"


async def test_a_signed_body_that_is_not_an_event_is_400(payments: Payments) -> None:
    body = b'{"not": "an event"}'
    response = await payments.client.post(
        "/webhooks/stripe", data=body, headers={"Stripe-Signature": sp.sign(body, WEBHOOK_SECRET)}
    )
    assert response.status == 400
    assert await stored_events(payments) == 0


async def test_fifty_concurrent_deliveries_of_one_event_make_one_payment_succeeded(
    payments: Payments,
) -> None:
    checkout = await open_checkout(payments)
    event = checkout.completed()
    async with tap(payments.amqp_url, payments.names, "skileez.payments.#") as published:
        responses = await asyncio.gather(*(payments.post_webhook(event) for _ in range(50)))
        assert {response.status for response in responses} == {200}
        outcomes = sorted([(await r.json())["outcome"] for r in responses])
        assert outcomes == ["duplicate"] * 49 + ["processed"]
        await wait_until(lambda: published)
        await asyncio.sleep(0.5)  # a second publication, if there were one, would be here now
    assert len(published) == 1
    assert await stored_events(payments) == 1


async def test_fifty_concurrent_distinct_events_for_one_payment_succeed_it_once(
    payments: Payments,
) -> None:
    checkout = await open_checkout(payments)
    events = [checkout.completed() for _ in range(50)]
    responses = await asyncio.gather(*(payments.post_webhook(event) for event in events))
    assert {response.status for response in responses} == {200}
    assert await outbox_types(payments) == ["PaymentSucceeded"]


async def second_attempt(checkout: Checkout) -> Checkout:
    """Another open attempt of the same contract, as a resumed or concurrent Pay click leaves."""
    session_id = f"cs_test_{uuid.uuid4().hex}"
    payment_id = uuid.uuid4()
    async with AsyncSession(checkout.payments.app[ENGINE]) as session, session.begin():
        row = (
            await session.execute(
                select(payments_table).where(payments_table.c.id == uuid.UUID(checkout.payment_id))
            )
        ).one()
        await session.execute(
            insert(payments_table).values(
                {**row._asdict(), "id": payment_id, "checkout_session_id": session_id}
            )
        )
    twin = Checkout(
        checkout.payments,
        checkout.contract,
        {"payment_id": str(payment_id), "checkout_session_id": session_id},
    )
    return twin


async def test_two_attempts_of_one_contract_paid_at_once_take_the_money_once(
    payments: Payments,
) -> None:
    pairs = []
    for _ in range(8):
        first = await open_checkout(payments)
        pairs.append((first, await second_attempt(first)))
    answers = await asyncio.gather(*(c.deliver(c.completed()) for pair in pairs for c in pair))
    assert {answer["outcome"] for answer in answers} <= {"processed", "held"}
    for pair in pairs:
        statuses = sorted([await pair[0].status(), await pair[1].status()])
        assert statuses == ["held_for_review", "succeeded"], statuses
    published = await outbox_types(payments)
    assert sorted(published) == sorted(["PaymentSucceeded", "PaymentHeld"] * len(pairs))


async def test_a_burst_is_applied_together_and_a_deferred_event_in_it_fails_alone(
    payments: Payments,
) -> None:
    checkouts = [await open_checkout(payments) for _ in range(20)]
    unpaid = checkouts[0]
    await unpaid.deliver(unpaid.completed(payment_status="unpaid"))
    early_refund = sp.event("charge.refunded", unpaid.charge(100, ["re_early"]))
    deliveries = [c.deliver(c.completed()) for c in checkouts[1:]]
    deliveries.insert(9, unpaid.deliver(early_refund, expected=503))
    answers = await asyncio.gather(*deliveries)

    assert answers[9]["code"] == "not_ready"
    assert [answer["outcome"] for answer in answers[:9] + answers[10:]] == ["processed"] * 19
    assert [await c.status() for c in checkouts] == ["processing"] + ["succeeded"] * 19
    assert await outbox_types(payments) == ["PaymentProcessing"] + ["PaymentSucceeded"] * 19
    assert await stored_events(payments) == 1 + 19  # the deferred refund is not recorded


async def test_a_group_locks_every_payment_its_events_look_up_then_reads_the_paid_attempts(
    payments: Payments,
) -> None:
    by_session, by_intent, by_id = [await open_checkout(payments) for _ in range(3)]
    paid_twin = await second_attempt(by_session)  # another attempt of the same contract
    await paid_twin.deliver(paid_twin.completed())
    await by_intent.deliver(by_intent.completed())  # links its PaymentIntent
    events = [
        stripe_objects.Event.model_validate(event)
        for event in (
            by_session.completed(),
            sp.event("charge.refunded", by_intent.charge(100, ["re_1"])),
            sp.event(
                "payment_intent.payment_failed",  # an intent not linked yet: found by metadata
                sp.payment_intent(
                    by_id.intent_id,
                    payment_id=by_id.payment_id,
                    contract_id=str(by_id.contract.contract_id),
                ),
            ),
        )
    ]
    engine = payments.app[ENGINE]
    async with transaction(engine) as group, connection(engine) as other:
        queries: list[str] = []
        group.add_query_logger(lambda record: queries.append(record.query))
        await lock_payments_ahead(events, PostgresUnitOfWork(group))
        for checkout in (by_session, by_intent, by_id):
            # Locked: another transaction can take neither the payment nor its contract.
            for query, row_id in (
                ("SELECT 1 FROM payments WHERE id = $1 FOR UPDATE NOWAIT", checkout.payment_id),
                (
                    "SELECT 1 FROM contracts WHERE id = $1 FOR UPDATE NOWAIT",
                    checkout.contract.contract_id,
                ),
            ):
                with pytest.raises(asyncpg.LockNotAvailableError):
                    await other.execute(query, uuid.UUID(str(row_id)))
        repository = PaymentRepository(group)
        found = [
            await repository.by_checkout_session(by_session.session_id),
            await repository.by_payment_intent(by_intent.intent_id),
            await repository.get(uuid.UUID(by_id.payment_id), lock=True),
        ]
        assert [str(payment.id) for payment in found if payment] == [
            by_session.payment_id,
            by_intent.payment_id,
            by_id.payment_id,
        ]
        assert await repository.by_checkout_session(by_session.session_id) is found[0]
        contract_id = by_session.contract.contract_id
        other = await repository.paid_attempt_of(contract_id, excluding=found[0].id)
        assert str(other) == paid_twin.payment_id
        await asyncio.sleep(0)  # asyncpg calls its query loggers soon, not at once
        # The intents' locks, the statement that locked the payments, the events waiting for
        # the sessions' intents, then the paid attempts.
        assert len(queries) == 4
        assert await repository.paid_attempt_of(contract_id, excluding=found[0].id) == other
        await asyncio.sleep(0)
        assert len(queries) == 4  # read once


async def test_a_payment_is_locked_after_its_contract_so_its_attempts_queue_on_the_contract(
    payments: Payments,
) -> None:
    checkout = await open_checkout(payments)
    engine = payments.app[ENGINE]
    payment_id = uuid.UUID(checkout.payment_id)
    async with (
        connection(engine) as holder,
        transaction(engine) as waiter,
        connection(engine) as other,
    ):
        await holder.execute("BEGIN")
        await holder.execute("SELECT 1 FROM payments WHERE id = $1 FOR UPDATE", payment_id)
        waiting = asyncio.create_task(PaymentRepository(waiter).get(payment_id, lock=True))
        await asyncio.sleep(0.3)
        # Waiting for the payment, it already holds the contract: every other attempt of the
        # contract waits behind it there, never holding a payment the waiter will want.
        with pytest.raises(asyncpg.LockNotAvailableError):
            await other.execute(
                "SELECT 1 FROM contracts WHERE id = $1 FOR UPDATE NOWAIT",
                checkout.contract.contract_id,
            )
        await holder.execute("ROLLBACK")
        found = await waiting
        assert found is not None


async def test_a_dispute_finds_the_payment_its_intent_was_linked_to_earlier_in_the_group(
    payments: Payments,
) -> None:
    """The link is staged, not yet in the table: the payment is found where the group keeps it."""
    checkout = await open_checkout(payments)
    events = [
        checkout.completed(),  # links the PaymentIntent
        sp.event(
            "charge.dispute.created",
            sp.dispute(checkout.intent_id, amount=checkout.contract.amount, currency="eur"),
        ),
    ]
    async with transaction(payments.app[ENGINE]) as group:
        outcomes = [
            await process_stripe_event(
                stripe_objects.Event.model_validate(event),
                PostgresUnitOfWork(group),
                payload=json.dumps(event).encode(),
                source="webhook",
                livemode=False,
                clock=utc_now,
            )
            for event in events
        ]
    assert outcomes == ["processed", "processed"]
    assert await checkout.status() == "disputed"


async def test_an_attempt_paid_while_the_contract_lock_was_awaited_is_seen_by_the_guard(
    payments: Payments,
) -> None:
    """The paid attempts are read once the contract is locked, not in the locking statement's
    snapshot, which was taken before the other attempt committed."""
    checkout = await open_checkout(payments)
    engine = payments.app[ENGINE]
    paid_meanwhile = uuid.uuid4()
    async with connection(engine) as holder, transaction(engine) as waiter:
        await holder.execute("BEGIN")
        await holder.execute(
            "SELECT 1 FROM contracts WHERE id = $1 FOR UPDATE", checkout.contract.contract_id
        )
        repository = PaymentRepository(waiter)
        waiting = asyncio.create_task(repository.get(uuid.UUID(checkout.payment_id), lock=True))
        await asyncio.sleep(0.3)  # its statement has started, and waits for the contract
        await holder.execute(
            "CREATE TEMP TABLE twin AS SELECT * FROM payments WHERE id = $1",
            uuid.UUID(checkout.payment_id),
        )
        await holder.execute(
            "UPDATE twin SET id = $1, checkout_session_id = 'cs_meanwhile', status = 'succeeded',"
            " paid_at = now()",
            paid_meanwhile,
        )
        await holder.execute("INSERT INTO payments SELECT * FROM twin")
        await holder.execute("COMMIT")
        payment = await waiting
        assert payment is not None
        other = await repository.paid_attempt_of(payment.contract_id, excluding=payment.id)
        assert other == paid_meanwhile
