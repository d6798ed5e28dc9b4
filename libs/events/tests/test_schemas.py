"""Event models must not drift from their committed JSON Schema snapshots."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from skileez_events import EVENT_MODELS, CloudEvent, PaymentSucceeded, new_event
from skileez_events.schemas import json_schema

SNAPSHOTS = Path(__file__).parents[1] / "schemas"


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
def test_model_matches_its_committed_snapshot(event_type: str) -> None:
    snapshot = SNAPSHOTS / f"{event_type}.json"
    assert snapshot.exists(), (
        f"no snapshot for {event_type}: run `python -m skileez_events schemas`"
    )
    assert json_schema(event_type) == json.loads(snapshot.read_text()), (
        f"{event_type} changed: additive? refresh the snapshot; breaking? add a .v2 type"
    )


def test_every_snapshot_has_a_model() -> None:
    assert {path.stem for path in SNAPSHOTS.glob("*.json")} == set(EVENT_MODELS)


def test_data_ignores_unknown_fields_so_additions_are_not_breaking() -> None:
    data = {
        "payment_id": "6d1b1f6e-8a57-4f34-9a5f-2b0f1b6a1f01",
        "contract_id": "0b8f5f3c-5d7e-4a8c-9a11-7c3b2f6f4e22",
        "amount": 1000,
        "currency": "eur",
        "stripe_checkout_session_id": "cs_test_1",
        "stripe_payment_intent_id": "pi_1",
        "paid_at": "2026-11-26T12:00:00Z",
        "a_field_from_the_future": True,
    }
    assert PaymentSucceeded.model_validate(data).amount == 1000


def test_envelope_carries_the_pinned_attributes() -> None:
    data = PaymentSucceeded.model_validate(
        {
            "payment_id": "6d1b1f6e-8a57-4f34-9a5f-2b0f1b6a1f01",
            "contract_id": "0b8f5f3c-5d7e-4a8c-9a11-7c3b2f6f4e22",
            "amount": 1000,
            "currency": "jpy",
            "stripe_checkout_session_id": "cs_test_1",
            "stripe_payment_intent_id": "pi_1",
            "paid_at": datetime.now(UTC),
        }
    )
    event = new_event(data, subject=str(data.contract_id))
    raw = json.loads(event.to_json())
    assert raw["specversion"] == "1.0"
    assert raw["type"] == "skileez.payments.PaymentSucceeded.v1"
    assert raw["source"] == "/skileez/payments"
    assert raw["datacontenttype"] == "application/json"
    assert raw["subject"] == str(data.contract_id)
    assert raw["time"].endswith("Z") or raw["time"].endswith("+00:00")
    assert CloudEvent.from_json(event.to_json()) == event


@pytest.mark.parametrize("currency", ["EUR", "euro", ""])
def test_currency_must_be_lowercase_iso_4217(currency: str) -> None:
    with pytest.raises(ValueError, match="currency"):
        PaymentSucceeded.model_validate(
            {
                "payment_id": "6d1b1f6e-8a57-4f34-9a5f-2b0f1b6a1f01",
                "contract_id": "0b8f5f3c-5d7e-4a8c-9a11-7c3b2f6f4e22",
                "amount": 1000,
                "currency": currency,
                "stripe_checkout_session_id": "cs_test_1",
                "stripe_payment_intent_id": "pi_1",
                "paid_at": "2026-11-26T12:00:00Z",
            }
        )
