"""Disputes end to end: opened (funds withdrawn), answered, closed won (funds reinstated) or
lost, with the charge's `disputed` flag, the balance transactions and Stripe's events."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import aiohttp
import pytest
import stripe

from stripe_emulator.testing import EmulatorControl, EmulatorRefusal, WebhookReceiver, wait_until

FIXTURES: dict[str, Any] = json.loads(
    resources.files("stripe_emulator").joinpath("fixtures3.json").read_text("utf-8")
)["resources"]
FEE = 1500


async def _paid_charge(
    client: stripe.StripeClient, control: EmulatorControl, params: Any
) -> dict[str, Any]:
    session = await client.v1.checkout.sessions.create_async(params())
    charge: dict[str, Any] = (await control.complete_session(session.id, "paid"))["charge"]
    return charge


def _types(receiver: WebhookReceiver, dispute_id: str) -> list[str]:
    return [
        e["type"]
        for e in receiver.events
        if e["type"].startswith("charge.dispute.") and e["data"]["object"]["id"] == dispute_id
    ]


async def _wait_types(receiver: WebhookReceiver, dispute_id: str, expected: list[str]) -> None:
    await wait_until(
        lambda: _types(receiver, dispute_id) == expected, what=f"dispute events {expected}"
    )


async def test_a_chargeback_withdraws_the_amount_and_the_fee(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    params: Any,
) -> None:
    charge = await _paid_charge(client, control, params)
    amount = charge["amount"]
    dispute = await control.dispute(charge["id"], reason="fraudulent")
    assert dispute["status"] == "needs_response"
    assert (dispute["amount"], dispute["currency"]) == (amount, "eur")
    assert dispute["charge"] == charge["id"]
    assert dispute["payment_intent"] == charge["payment_intent"]
    assert dispute["is_charge_refundable"] is False
    assert dispute["payment_method_details"]["card"]["case_type"] == "chargeback"
    [withdrawal] = dispute["balance_transactions"]
    assert set(withdrawal) == set(FIXTURES["balance_transaction"])
    assert withdrawal["object"] == "balance_transaction"
    assert (withdrawal["amount"], withdrawal["fee"], withdrawal["net"]) == (
        -amount,
        FEE,
        -amount - FEE,
    )
    assert withdrawal["fee_details"][0]["description"] == "Dispute fee"
    assert withdrawal["reporting_category"] == "dispute"
    assert withdrawal["source"] == dispute["id"]
    assert withdrawal["description"] == f"Chargeback withdrawal for {charge['id']}"

    await _wait_types(
        receiver, dispute["id"], ["charge.dispute.created", "charge.dispute.funds_withdrawn"]
    )
    withdrawn = receiver.events_of_type("charge.dispute.funds_withdrawn")[0]
    assert withdrawn["data"]["object"]["balance_transactions"][0]["id"] == withdrawal["id"]
    disputed = await client.v1.charges.retrieve_async(charge["id"])
    assert disputed.disputed is True
    assert (disputed.amount_refunded, disputed.refunded) == (0, False)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.refunds.create_async({"charge": charge["id"]})
    assert caught.value.code == "charge_disputed"
    with pytest.raises(EmulatorRefusal):  # one dispute per charge
        await control.dispute(charge["id"])


async def test_evidence_then_won_reinstates_the_amount_not_the_fee(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    params: Any,
) -> None:
    charge = await _paid_charge(client, control, params)
    dispute = await control.dispute(charge["id"], reason="product_not_received")

    answered = await client.v1.disputes.update_async(
        dispute["id"],
        {
            "evidence": {"uncategorized_text": "The sessions took place.", "service_date": "x"},
            "metadata": {"contract_id": "contract-123"},
        },
    )
    assert answered.status == "under_review"
    assert answered.evidence.uncategorized_text == "The sessions took place."
    assert answered.evidence_details.has_evidence is True
    assert answered.evidence_details.submission_count == 1
    assert answered.metadata.to_dict() == {"contract_id": "contract-123"}
    updated = await receiver.wait_for_event("charge.dispute.updated")
    assert updated["data"]["previous_attributes"]["status"] == "needs_response"

    won = await control.close_dispute(dispute["id"], "won")
    assert won["status"] == "won"
    withdrawal, reinstatement = won["balance_transactions"]
    assert (reinstatement["amount"], reinstatement["fee"], reinstatement["net"]) == (
        charge["amount"],
        0,
        charge["amount"],
    )
    assert reinstatement["reporting_category"] == "dispute_reversal"
    assert reinstatement["description"] == f"Chargeback reversal for {charge['id']}"
    assert withdrawal["net"] + reinstatement["net"] == -FEE, "the fee is not given back"

    await _wait_types(
        receiver,
        dispute["id"],
        [
            "charge.dispute.created",
            "charge.dispute.funds_withdrawn",
            "charge.dispute.updated",
            "charge.dispute.closed",
            "charge.dispute.funds_reinstated",
        ],
    )
    closed = receiver.events_of_type("charge.dispute.closed")[0]
    assert closed["data"]["object"]["status"] == "won"
    reinstated = receiver.events_of_type("charge.dispute.funds_reinstated")[0]
    assert len(reinstated["data"]["object"]["balance_transactions"]) == 2
    assert (await client.v1.disputes.retrieve_async(dispute["id"])).status == "won"
    assert (await client.v1.charges.retrieve_async(charge["id"])).disputed is True

    # Once won, the money is the merchant's again and can be refunded.
    refund = await client.v1.refunds.create_async({"charge": charge["id"], "amount": 1000})
    assert refund.status == "succeeded"
    with pytest.raises(EmulatorRefusal) as again:
        await control.close_dispute(dispute["id"], "lost")
    assert again.value.status == 400


async def test_lost_keeps_the_money_with_the_cardholder(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    params: Any,
) -> None:
    charge = await _paid_charge(client, control, params)
    dispute = await control.dispute(charge["id"])
    lost = await control.close_dispute(dispute["id"], "lost")
    assert lost["status"] == "lost"
    assert len(lost["balance_transactions"]) == 1, "nothing comes back"
    await _wait_types(
        receiver,
        dispute["id"],
        ["charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.closed"],
    )
    closed = receiver.events_of_type("charge.dispute.closed")[0]
    assert closed["data"]["object"]["status"] == "lost"
    assert closed["request"] == {"id": None, "idempotency_key": None}, "the network, not an API"
    assert receiver.events_of_type("charge.dispute.funds_reinstated") == []
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.refunds.create_async({"charge": charge["id"]})
    assert caught.value.code == "charge_disputed"
    with pytest.raises(stripe.InvalidRequestError):  # closed disputes take no evidence
        await client.v1.disputes.update_async(
            dispute["id"], {"evidence": {"uncategorized_text": "late"}}
        )


async def test_accepting_a_dispute_through_the_api_loses_it(
    client: stripe.StripeClient,
    receiver: WebhookReceiver,
    control: EmulatorControl,
    params: Any,
) -> None:
    charge = await _paid_charge(client, control, params)
    dispute = await control.dispute(charge["id"])
    accepted = await client.v1.disputes.close_async(dispute["id"])
    assert accepted.status == "lost"
    closed = await receiver.wait_for_event("charge.dispute.closed")
    assert closed["data"]["object"]["status"] == "lost"
    assert closed["request"]["id"], "caused by an API request"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.disputes.close_async(dispute["id"])
    assert caught.value.http_status == 400


async def test_a_partly_refunded_charge_is_disputed_for_what_is_left(
    client: stripe.StripeClient, control: EmulatorControl, params: Any
) -> None:
    charge = await _paid_charge(client, control, params)
    await client.v1.refunds.create_async({"charge": charge["id"], "amount": 2000})
    dispute = await control.dispute(charge["id"])
    assert dispute["amount"] == charge["amount"] - 2000
    assert dispute["balance_transactions"][0]["amount"] == -(charge["amount"] - 2000)


async def test_control_refusals(control: EmulatorControl, emulator: str) -> None:
    with pytest.raises(EmulatorRefusal) as unknown_charge:
        await control.dispute("ch_unknown")
    assert (unknown_charge.value.status, unknown_charge.value.code) == (404, "resource_missing")
    with pytest.raises(EmulatorRefusal) as unknown_dispute:
        await control.close_dispute("dp_unknown", "won")
    assert (unknown_dispute.value.status, unknown_dispute.value.code) == (404, "resource_missing")
    headers = {"Authorization": "Bearer sk_test_raw"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{emulator}/v1/disputes/dp_unknown", headers=headers) as r,
    ):
        assert r.status == 404
        assert (await r.json())["error"]["code"] == "resource_missing"


async def test_a_dispute_must_close_won_or_lost(
    client: stripe.StripeClient, control: EmulatorControl, params: Any
) -> None:
    charge = await _paid_charge(client, control, params)
    dispute = await control.dispute(charge["id"])
    with pytest.raises(EmulatorRefusal) as caught:
        await control.close_dispute(dispute["id"], "warning_closed")
    assert (caught.value.status, caught.value.error["param"]) == (400, "status")
