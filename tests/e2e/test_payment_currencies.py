"""Currencies end to end: a contract in yen (no minor unit) and one in Kuwaiti dinars (three
decimals) proposed, paid at the emulator and activated; a price Stripe would refuse is refused
when the coach proposes it, not when the student presses Pay."""

from __future__ import annotations

from typing import Any

import pytest
from test_payment_flows import a_slot, notifications, until_booking_is
from test_payment_variants import payment_where

from skileez_system.client import Emulator, Parties, contract_where, start_checkout


async def proposal(
    parties: Parties, currency: str, price_per_session: int, sessions: int = 4
) -> Any:
    return await parties.coach.call(
        "POST",
        "contracts",
        "/proposals",
        {
            "student_id": parties.student.user_id,
            "title": "Endgame technique",
            "session_count": sessions,
            "price_per_session": price_per_session,
            "currency": currency,
        },
    )


async def pending_contract_in(parties: Parties, currency: str, price_per_session: int) -> Any:
    offer = await proposal(parties, currency, price_per_session)
    assert offer.status == 201, offer.body
    accepted = await parties.student.call(
        "POST", "contracts", f"/proposals/{offer.body['id']}/accept"
    )
    assert accepted.status == 200, accepted.body
    contract = await parties.student.call(
        "POST", "contracts", "/contracts", {"proposal_id": offer.body["id"]}
    )
    assert contract.status == 201, contract.body
    return contract.body


@pytest.mark.parametrize(
    ("currency", "price_per_session", "amount", "shown"),
    [("jpy", 5_000, 20_000, "¥20,000"), ("kwd", 1_250, 5_000, "5.000 KWD")],
)
async def test_a_contract_in_yen_or_dinars_is_paid_end_to_end(
    parties: Parties,
    emulator: Emulator,
    currency: str,
    price_per_session: int,
    amount: int,
    shown: str,
) -> None:
    contract = await pending_contract_in(parties, currency, price_per_session)
    assert (contract["amount"], contract["currency"]) == (amount, currency)

    checkout = await start_checkout(parties.student, contract["id"])
    completion = await emulator.complete(checkout["checkout_session_id"], "paid")
    assert (completion["charge"]["amount"], completion["charge"]["currency"]) == (
        amount,
        currency,
    )
    await contract_where(parties.student, contract["id"], status="active", payment_status="paid")
    payment = await payment_where(parties, checkout["payment_id"], status="succeeded")
    assert (payment["amount"], payment["currency"]) == (amount, currency)
    [note] = await notifications(parties, count=1)
    assert note["kind"] == "payment_received"
    assert (note["amount"], note["currency"]) == (amount, currency)
    assert shown in note["message"]
    assert (await until_booking_is(parties, contract["id"], 201, a_slot())).status == 201


@pytest.mark.parametrize(
    ("currency", "price_per_session", "code"),
    [
        ("xyz", 5_000, "unsupported_currency"),
        ("usd", 10, "amount_too_small"),
        ("kwd", 1_255, "amount_too_precise"),
        ("jpy", 30_000_000, "amount_too_large"),
    ],
)
async def test_a_price_stripe_would_refuse_is_refused_at_the_proposal(
    parties: Parties, currency: str, price_per_session: int, code: str
) -> None:
    refused = await proposal(parties, currency, price_per_session)
    assert (refused.status, refused.body["code"]) == (422, code), refused.body
    listed = await parties.coach.call("GET", "contracts", "/proposals")
    assert listed.body["items"] == []
