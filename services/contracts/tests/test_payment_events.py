"""Payment events through a real broker into the inbox consumer: once, in any order."""

from __future__ import annotations

import asyncio
from typing import Any

from skileez_contracts.adapters.tables import notifications, waiting_payment_events
from skileez_events import (
    CloudEvent,
    ContractActivated,
    ContractCancelled,
    ContractPaymentFailed,
    PaymentSucceeded,
    event_type_of,
)
from skileez_events.deadletters import list_dead_letters
from skileez_events.testing import tap, wait_until

ACTIVATED = event_type_of(ContractActivated)
CANCELLED = event_type_of(ContractCancelled)
PAYMENT_FAILED = event_type_of(ContractPaymentFailed)


async def coach_notifications(service: Any, coach: str = "coach-1") -> list[dict[str, Any]]:
    response = await service.client.get("/notifications", headers=service.coach(coach))
    assert response.status == 200
    items: list[dict[str, Any]] = (await response.json())["items"]
    return items


async def test_fifty_concurrent_deliveries_activate_once_notify_once_publish_once(
    service: Any, payment_succeeded: Any
) -> None:
    contract = await service.contract()
    event = payment_succeeded(contract)
    async with tap(service.amqp_url, service.names, routing_key=ACTIVATED) as published:
        await service.publish(event, copies=50)
        await service.settle(event)
        await wait_until(service.all_sent)
        await wait_until(lambda: published)
        await service.consumer.drain()

    row = await service.contract_row(contract["id"])
    assert (row.status, row.payment_status) == ("active", "paid")
    assert row.stripe_payment_intent_id == "pi_test_1"
    assert row.payment_date is not None
    assert row.activated_at is not None
    assert await service.notifications_for(contract["id"]) == 1
    assert len(published) == 1
    [activated] = await service.outbox_events(ACTIVATED)
    assert activated.correlationid == event.correlationid
    assert activated.causationid == event.id
    data = ContractActivated.model_validate(activated.data)
    assert (str(data.contract_id), data.amount, data.currency) == (contract["id"], 50_000, "eur")
    assert str(data.payment_id) == event.data["payment_id"]


async def test_payment_makes_the_contract_active_with_its_date_and_tells_the_coach(
    service: Any, payment_succeeded: Any
) -> None:
    contract = await service.contract()
    event = payment_succeeded(contract)
    await service.publish(event)
    await service.settle(event)

    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("active", "paid")
    assert seen["payment_date"] is not None
    assert seen["stripe_payment_intent_id"] == "pi_test_1"
    [note] = await coach_notifications(service)
    assert note["kind"] == "payment_received"
    assert note["contract_id"] == contract["id"]
    assert (note["amount"], note["currency"]) == (50_000, "eur")
    for part in ("student-1", "€500.00", contract["title"]):
        assert part in note["message"]
    assert await coach_notifications(service, "coach-2") == []
    response = await service.client.get("/notifications", headers=service.student())
    assert (await response.json())["items"] == []

    page = await (
        await service.client.get(
            f"/contracts/{contract['id']}",
            cookies={"skileez_token": service.token("student-1", "student")},
            headers={"Accept": "text/html"},
        )
    ).text()
    assert 'id="status">active</span>' in page
    assert "Next steps" in page
    assert "http://scheduling.test/contracts/" in page
    assert "Pay €500.00" not in page
    assert "not yet" not in page


async def test_a_delayed_payment_shows_processing_until_it_fails_and_is_payable_again(
    service: Any, payment_processing: Any, payment_failed: Any
) -> None:
    contract = await service.contract()
    processing = payment_processing(contract)
    await service.publish(processing, copies=2)
    await service.settle(processing)

    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("pending", "pending")
    assert seen["payment_processing_since"] is not None
    cookies = {"skileez_token": service.token("student-1", "student")}
    url = f"/contracts/{contract['id']}"
    html = {"Accept": "text/html"}
    page = await (await service.client.get(url, cookies=cookies, headers=html)).text()
    assert 'id="payment-status">processing</span>' in page
    assert "The payment is processing" in page
    assert "Pay €500.00" not in page

    failure = payment_failed(
        contract, payment_id=processing.data["payment_id"], reason="async_payment_failed"
    )
    await service.publish(failure)
    await service.settle(failure)
    seen = await service.get_contract(contract["id"])
    assert (seen["payment_status"], seen["payment_processing_since"]) == ("failed", None)
    page = await (await service.client.get(url, cookies=cookies, headers=html)).text()
    assert "The payment is processing" not in page
    assert "Pay €500.00" in page


async def test_a_failure_after_the_success_changes_nothing(
    service: Any, payment_succeeded: Any, payment_failed: Any
) -> None:
    contract = await service.contract()
    success = payment_succeeded(contract)
    await service.publish(success)
    await service.settle(success)
    late_failure = payment_failed(contract)
    await service.publish(late_failure)
    await service.settle(late_failure)

    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("active", "paid")
    assert await service.outbox_events(PAYMENT_FAILED) == []
    assert [n["kind"] for n in await coach_notifications(service)] == ["payment_received"]


async def test_a_failed_payment_then_a_successful_one(
    service: Any, payment_succeeded: Any, payment_failed: Any
) -> None:
    contract = await service.contract()
    failure = payment_failed(contract)
    await service.publish(failure)
    await service.settle(failure)

    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("pending", "failed")
    [failed] = await service.outbox_events(PAYMENT_FAILED)
    assert ContractPaymentFailed.model_validate(failed.data).reason == "card_declined"
    assert failed.causationid == failure.id
    page = await (
        await service.client.get(
            f"/contracts/{contract['id']}",
            cookies={"skileez_token": service.token("student-1", "student")},
            headers={"Accept": "text/html"},
        )
    ).text()
    assert "The last payment attempt failed" in page
    assert "Pay €500.00" in page

    success = payment_succeeded(contract)
    await service.publish(success)
    await service.settle(success)
    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("active", "paid")
    assert len(await service.outbox_events(ACTIVATED)) == 1
    kinds = [n["kind"] for n in await coach_notifications(service)]
    assert kinds == ["payment_received", "payment_failed"]


async def test_a_full_refund_seen_before_the_success_waits_for_it_then_cancels(
    service: Any, payment_succeeded: Any, payment_refunded: Any
) -> None:
    """The refund's queue delivered it first: it waits, stored, for its payment's success."""
    contract = await service.contract()
    success = payment_succeeded(contract)
    refund = payment_refunded(contract, payment_id=success.data["payment_id"])
    await service.deliver(refund, copies=3)
    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("pending", "pending")
    assert await service.count(waiting_payment_events) == 1
    assert await service.outbox_events(CANCELLED) == []

    await service.deliver(success, copies=3)
    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("cancelled", "refunded")
    assert await service.count(waiting_payment_events) == 0
    [cancelled] = await service.outbox_events(CANCELLED)
    assert ContractCancelled.model_validate(cancelled.data).reason == "payment refunded"
    assert cancelled.causationid == refund.id
    assert len(await service.outbox_events(ACTIVATED)) == 1
    kinds = [n["kind"] for n in await coach_notifications(service)]
    assert sorted(kinds) == ["payment_received", "payment_refunded"]
    assert await list_dead_letters(service.amqp_url, service.names) == []


async def test_a_refund_of_a_payment_that_never_succeeded_leaves_the_contract_payable(
    service: Any, payment_succeeded: Any, payment_refunded: Any
) -> None:
    """A held payment refunded at review never succeeded: the student can still pay."""
    contract = await service.contract()
    await service.deliver(payment_refunded(contract))
    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("pending", "pending")
    assert "Pay €500.00" in await service.page(contract["id"])
    assert await coach_notifications(service) == []

    await service.deliver(payment_succeeded(contract))
    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("active", "paid")
    assert await service.outbox_events(CANCELLED) == []


async def test_partial_then_full_refund_after_payment(
    service: Any, payment_succeeded: Any, payment_refunded: Any
) -> None:
    contract = await service.contract()
    success = payment_succeeded(contract)
    await service.publish(success)
    await service.settle(success)
    paid_by = success.data["payment_id"]
    partial = payment_refunded(
        contract,
        payment_id=paid_by,
        refund_amount=10_000,
        total_refunded=10_000,
        fully_refunded=False,
    )
    await service.publish(partial)
    await service.settle(partial)
    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("active", "paid")
    assert await service.outbox_events(CANCELLED) == []

    rest = payment_refunded(
        contract, payment_id=paid_by, refund_amount=40_000, total_refunded=50_000
    )
    await service.publish(rest, copies=3)
    await service.settle(rest)
    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("cancelled", "refunded")
    assert len(await service.outbox_events(CANCELLED)) == 1
    notes = await coach_notifications(service)
    assert [n["kind"] for n in notes] == [
        "payment_refunded",
        "payment_refunded",
        "payment_received",
    ]
    assert "€400.00" in notes[0]["message"]
    assert "the contract is cancelled" in notes[0]["message"]
    assert await service.count(notifications) == 3


async def test_a_refund_of_a_duplicate_payment_leaves_the_contract_active_and_paid(
    service: Any, payment_succeeded: Any, payment_refunded: Any
) -> None:
    """Paid twice; the second payment refunded in full: the first still pays the contract."""
    contract = await service.contract()
    first = payment_succeeded(contract)
    duplicate = payment_succeeded(contract, stripe_payment_intent_id="pi_test_2")
    for event in (first, duplicate):
        await service.publish(event)
        await service.settle(event)
    refund = payment_refunded(contract, payment_id=duplicate.data["payment_id"])
    await service.publish(refund)
    await service.settle(refund)

    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("active", "paid")
    assert seen["stripe_payment_intent_id"] == "pi_test_1"
    assert await service.outbox_events(CANCELLED) == []
    assert [n["kind"] for n in await coach_notifications(service)] == ["payment_received"]
    assert await list_dead_letters(service.amqp_url, service.names) == []

    refund_of_first = payment_refunded(contract, payment_id=first.data["payment_id"])
    await service.publish(refund_of_first)
    await service.settle(refund_of_first)
    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("cancelled", "refunded")
    assert len(await service.outbox_events(CANCELLED)) == 1


async def test_a_payment_for_another_amount_never_activates_and_is_dead_lettered(
    service: Any, payment_succeeded: Any
) -> None:
    contract = await service.contract()
    wrong = payment_succeeded(contract, amount=1)
    await service.publish(wrong)
    [letter] = await wait_until(
        lambda: list_dead_letters(service.amqp_url, service.names), timeout=30
    )
    assert letter.message_id == wrong.id
    assert letter.reason == "rejected"
    assert not await service.handled(wrong)
    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("pending", "pending")
    assert await service.notifications_for(contract["id"]) == 0


async def test_an_event_for_an_unknown_contract_is_dead_lettered_not_dropped(
    service: Any, payment_succeeded: Any
) -> None:
    ghost = {"id": "00000000-0000-4000-8000-000000000000", "amount": 100, "currency": "eur"}
    event = payment_succeeded(ghost)
    await service.publish(event)
    [letter] = await wait_until(
        lambda: list_dead_letters(service.amqp_url, service.names), timeout=30
    )
    assert letter.message_id == event.id
    assert letter.reason == "rejected"  # at once, not after the retries that cannot help


async def test_a_malformed_event_is_dead_lettered_and_the_consumer_goes_on(
    service: Any, payment_succeeded: Any
) -> None:
    contract = await service.contract()
    good = payment_succeeded(contract)
    broken = CloudEvent(**{**good.model_dump(), "id": "broken-1", "data": {"contract_id": "x"}})
    await service.publish(broken)
    await service.publish(good)
    await service.settle(good)
    [letter] = await wait_until(lambda: list_dead_letters(service.amqp_url, service.names))
    assert letter.message_id == "broken-1"
    assert (await service.get_contract(contract["id"]))["status"] == "active"
    assert event_type_of(PaymentSucceeded) == good.type


async def test_a_success_racing_many_failures_for_one_contract_ends_paid(
    service: Any, payment_succeeded: Any, payment_failed: Any
) -> None:
    """Different events about one contract, all at once: the row lock applies them one by one."""
    contract = await service.contract()
    failures = [payment_failed(contract) for _ in range(20)]
    success = payment_succeeded(contract)
    await asyncio.gather(
        *(service.publish(event) for event in [*failures[:10], success, *failures[10:]])
    )
    for event in [*failures, success]:
        await wait_until(lambda event=event: service.handled(event))
    await service.consumer.drain()

    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("active", "paid")
    assert len(await service.outbox_events(ACTIVATED)) == 1
    notes = await coach_notifications(service)
    assert [n["kind"] for n in notes].count("payment_received") == 1
    assert len(notes) == 1 + len(await service.outbox_events(PAYMENT_FAILED))


async def test_a_burst_of_payments_activates_each_contract_and_tells_each_coach_once(
    service: Any, payment_succeeded: Any
) -> None:
    contracts = [await service.contract(coach=f"coach-{n}") for n in range(30)]
    events = [payment_succeeded(contract) for contract in contracts]
    await asyncio.gather(*(service.publish(event) for event in events))
    for event in events:
        await service.settle(event)

    for n, contract in enumerate(contracts):
        assert (await service.get_contract(contract["id"]))["status"] == "active"
        [note] = await coach_notifications(service, f"coach-{n}")
        assert (note["kind"], note["contract_id"]) == ("payment_received", contract["id"])
        assert (note["amount"], note["currency"]) == (50_000, "eur")
    assert len(await service.outbox_events(ACTIVATED)) == 30


async def test_a_burst_of_payments_each_refunded_in_full_cancels_every_contract_once(
    service: Any, payment_succeeded: Any, payment_refunded: Any
) -> None:
    """Batches lock their contracts ahead; the events of one contract in one batch share it."""
    contracts = [await service.contract(coach=f"coach-{n}") for n in range(20)]
    successes = [payment_succeeded(contract) for contract in contracts]
    events = [
        event
        for contract, success in zip(contracts, successes, strict=True)
        for event in (
            success,
            payment_refunded(
                contract,
                payment_id=success.data["payment_id"],
                refund_amount=50_000,
                total_refunded=50_000,
            ),
        )
    ]
    await asyncio.gather(*(service.publish(event) for event in events))
    for event in events:
        await service.settle(event)

    for contract in contracts:
        seen = await service.get_contract(contract["id"])
        assert (seen["status"], seen["payment_status"]) == ("cancelled", "refunded")
    assert len(await service.outbox_events(CANCELLED)) == 20
