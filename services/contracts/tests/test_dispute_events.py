"""Disputes through a real broker into the inbox consumer: suspended, then reinstated or
cancelled, once, in any order."""

from __future__ import annotations

from typing import Any

from skileez_events import (
    ContractActivated,
    ContractCancelled,
    ContractReinstated,
    ContractSuspended,
    event_type_of,
)
from skileez_events.deadletters import list_dead_letters
from skileez_events.testing import tap, wait_until

from .test_payment_events import coach_notifications

ACTIVATED = event_type_of(ContractActivated)
SUSPENDED = event_type_of(ContractSuspended)
REINSTATED = event_type_of(ContractReinstated)
CANCELLED = event_type_of(ContractCancelled)


async def paid(service: Any, payment_succeeded: Any) -> tuple[dict[str, Any], str]:
    contract = await service.contract()
    success = payment_succeeded(contract)
    await service.deliver(success)
    return contract, success.data["payment_id"]


async def test_a_dispute_suspends_the_contract_and_a_won_one_reinstates_it(
    service: Any, payment_succeeded: Any, payment_disputed: Any, payment_dispute_closed: Any
) -> None:
    contract, payment_id = await paid(service, payment_succeeded)
    dispute = payment_disputed(contract, payment_id)
    async with tap(service.amqp_url, service.names, routing_key=SUSPENDED) as published:
        await service.deliver(dispute, copies=3)
        await wait_until(service.all_sent)
        await wait_until(lambda: published)

    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("suspended", "disputed")
    [suspended] = await service.outbox_events(SUSPENDED)
    assert suspended.causationid == dispute.id
    data = ContractSuspended.model_validate(suspended.data)
    assert str(data.contract_id) == contract["id"]
    assert "fraudulent" in data.reason
    note = (await coach_notifications(service))[0]
    assert (note["kind"], note["amount"], note["currency"]) == ("payment_disputed", 50_000, "eur")
    for part in ("student-1", "€500.00", "suspended"):
        assert part in note["message"]
    page = await service.page(contract["id"])
    assert 'id="status">suspended</span>' in page
    assert 'id="payment-status">disputed</span>' in page
    assert "Suspended: the payment is disputed" in page
    assert "Next steps" not in page
    assert "Pay €500.00" not in page

    won = payment_dispute_closed(contract, payment_id, "won")
    await service.deliver(won, copies=3)
    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("active", "paid")
    [reinstated] = await service.outbox_events(REINSTATED)
    assert str(ContractReinstated.model_validate(reinstated.data).contract_id) == contract["id"]
    kinds = [n["kind"] for n in await coach_notifications(service)]
    assert kinds == ["dispute_won", "payment_disputed", "payment_received"]
    assert "Next steps" in await service.page(contract["id"])


async def test_a_lost_dispute_cancels_the_contract_with_nothing_to_refund(
    service: Any, payment_succeeded: Any, payment_disputed: Any, payment_dispute_closed: Any
) -> None:
    contract, payment_id = await paid(service, payment_succeeded)
    await service.deliver(payment_disputed(contract, payment_id))
    lost = payment_dispute_closed(contract, payment_id, "lost")
    await service.deliver(lost)
    late_win = payment_dispute_closed(contract, payment_id, "won")
    await service.deliver(late_win)

    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("cancelled", "refunded")
    [cancelled] = await service.outbox_events(CANCELLED)
    data = ContractCancelled.model_validate(cancelled.data)
    assert (data.cancelled_by, data.refund_amount) == ("system", 0)
    assert "dispute dp_test_1 lost" in data.reason
    assert cancelled.causationid == lost.id
    assert await service.outbox_events(REINSTATED) == []
    kinds = [n["kind"] for n in await coach_notifications(service)]
    assert kinds == ["dispute_lost", "payment_disputed", "payment_received"]
    assert "the dispute was lost" in await service.page(contract["id"])


async def test_a_closure_before_its_dispute_ends_in_the_right_state(
    service: Any, payment_succeeded: Any, payment_disputed: Any, payment_dispute_closed: Any
) -> None:
    won_contract, won_payment = await paid(service, payment_succeeded)
    await service.deliver(payment_dispute_closed(won_contract, won_payment, "won"))
    await service.deliver(payment_disputed(won_contract, won_payment))
    seen = await service.get_contract(won_contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("active", "paid")
    assert await service.outbox_events(SUSPENDED) == []

    lost_contract, lost_payment = await paid(service, payment_succeeded)
    await service.deliver(payment_dispute_closed(lost_contract, lost_payment, "lost"))
    await service.deliver(payment_disputed(lost_contract, lost_payment))
    seen = await service.get_contract(lost_contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("cancelled", "refunded")
    assert len(await service.outbox_events(CANCELLED)) == 1
    assert await service.outbox_events(SUSPENDED) == []


async def test_a_dispute_of_another_payment_changes_nothing(
    service: Any, payment_succeeded: Any, payment_disputed: Any, payment_dispute_closed: Any
) -> None:
    contract, _ = await paid(service, payment_succeeded)
    duplicate = payment_succeeded(contract, stripe_payment_intent_id="pi_test_2")
    await service.deliver(duplicate)
    other = duplicate.data["payment_id"]
    await service.deliver(
        payment_disputed(contract, other), payment_dispute_closed(contract, other, "lost")
    )
    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("active", "paid")
    assert await service.outbox_events(SUSPENDED) == []
    assert await service.outbox_events(CANCELLED) == []
    assert await list_dead_letters(service.amqp_url, service.names) == []


async def test_a_dispute_and_its_loss_seen_before_the_payment_wait_for_it(
    service: Any, payment_succeeded: Any, payment_disputed: Any, payment_dispute_closed: Any
) -> None:
    contract = await service.contract()
    success = payment_succeeded(contract)
    payment_id = success.data["payment_id"]
    await service.deliver(
        payment_dispute_closed(contract, payment_id, "lost"),
        payment_disputed(contract, payment_id),
    )
    assert (await service.get_contract(contract["id"]))["status"] == "pending"
    await service.deliver(success)
    seen = await service.get_contract(contract["id"])
    assert (seen["status"], seen["payment_status"]) == ("cancelled", "refunded")
    assert len(await service.outbox_events(ACTIVATED)) == 1
    assert len(await service.outbox_events(CANCELLED)) == 1
    kinds = sorted(n["kind"] for n in await coach_notifications(service))
    assert kinds == ["dispute_lost", "payment_received"]
