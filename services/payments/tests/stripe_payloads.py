"""Stripe webhook payloads built from Stripe's published fixtures (shared/stripe/fixtures3.json,
of which the emulator package carries a byte-identical copy, so a clean clone has it too).

An object is copied from the fixtures, given the ids, amounts, status and metadata a test
needs, wrapped in an `event`, and signed the way Stripe signs: `t=<unix>,v1=<hex HMAC-SHA256
of "<t>.<raw body>">` keyed with the webhook secret.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import uuid
from functools import cache
from importlib.resources import files
from typing import Any

FIXTURES = files("stripe_emulator") / "fixtures3.json"


@cache
def _resources() -> dict[str, Any]:
    resources: dict[str, Any] = json.loads(FIXTURES.read_text())["resources"]
    return resources


def fixture(resource: str, **fields: Any) -> dict[str, Any]:
    obj: dict[str, Any] = copy.deepcopy(_resources()[resource])
    obj.update(fields)
    return obj


def checkout_session(
    session_id: str,
    *,
    contract_id: str,
    payment_id: str,
    amount: int,
    currency: str,
    status: str = "complete",
    payment_status: str = "paid",
    payment_intent: str | None = None,
    livemode: bool = False,
) -> dict[str, Any]:
    metadata = {"contract_id": contract_id, "payment_id": payment_id}
    return fixture(
        "checkout.session",
        id=session_id,
        status=status,
        payment_status=payment_status,
        amount_total=amount,
        amount_subtotal=amount,
        currency=currency,
        livemode=livemode,
        client_reference_id=contract_id,
        metadata=metadata,
        payment_intent=payment_intent or f"pi_{uuid.uuid4().hex[:24]}",
    )


def payment_intent(
    intent_id: str, *, payment_id: str, contract_id: str, decline_code: str = "card_declined"
) -> dict[str, Any]:
    return fixture(
        "payment_intent",
        id=intent_id,
        status="requires_payment_method",
        metadata={"contract_id": contract_id, "payment_id": payment_id},
        last_payment_error={
            "type": "card_error",
            "code": "card_declined",
            "decline_code": decline_code,
        },
    )


def charge(
    intent_id: str, *, amount: int, currency: str, amount_refunded: int, refund_ids: list[str]
) -> dict[str, Any]:
    refunds = [
        fixture("refund", id=refund_id, payment_intent=intent_id, created=1_700_000_000 + n)
        for n, refund_id in enumerate(refund_ids)
    ]
    return fixture(
        "charge",
        id=f"ch_{uuid.uuid4().hex[:24]}",
        amount=amount,
        amount_captured=amount,
        amount_refunded=amount_refunded,
        refunded=amount_refunded >= amount,
        currency=currency,
        payment_intent=intent_id,
        refunds={"object": "list", "data": refunds[::-1], "has_more": False, "url": "/v1/refunds"},
    )


def dispute(intent_id: str, *, amount: int, currency: str) -> dict[str, Any]:
    return fixture(
        "dispute",
        id=f"dp_{uuid.uuid4().hex[:24]}",
        amount=amount,
        currency=currency,
        payment_intent=intent_id,
        reason="fraudulent",
        status="needs_response",
    )


def event(event_type: str, obj: dict[str, Any], *, livemode: bool = False) -> dict[str, Any]:
    return fixture(
        "event",
        id=f"evt_{uuid.uuid4().hex[:24]}",
        type=event_type,
        created=int(time.time()),
        livemode=livemode,
        api_version="2024-06-20",
        data={"object": obj},
    )


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"
