"""Fixtures: a real emulator on a loopback port, a signature-checking receiver, stripe clients."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import stripe

from stripe_emulator.testing import (
    EmulatorControl,
    WebhookReceiver,
    running_emulator,
    running_webhook_receiver,
)

SECRET = "whsec_emulator_tests_0123456789"
API_KEY = "sk_test_emulator_tests"


def session_params(**overrides: Any) -> dict[str, Any]:
    """A Checkout Session as the payments service creates one."""
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 3000,
                    "product_data": {"name": "Coaching session"},
                },
                "quantity": 4,
            }
        ],
        "client_reference_id": "contract-123",
        "metadata": {"contract_id": "contract-123"},
        "payment_intent_data": {"metadata": {"contract_id": "contract-123"}},
        "customer_email": "student@example.com",
        "success_url": "https://app.example/contracts/contract-123/payment-success"
        "?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.example/contracts/contract-123/payment-cancel",
        "expires_at": int(time.time()) + 3600,
    }
    params.update(overrides)
    return params


def subscription_params(**overrides: Any) -> dict[str, Any]:
    """A `subscription`-mode Checkout Session: €60.00 a month for a contract."""
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 6000,
                    "product_data": {"name": "Monthly coaching"},
                    "recurring": {"interval": "month", "interval_count": 1},
                },
                "quantity": 1,
            }
        ],
        "client_reference_id": "contract-123",
        "subscription_data": {"metadata": {"contract_id": "contract-123"}},
        "success_url": "https://app.example/contracts/contract-123/payment-success"
        "?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.example/contracts/contract-123/payment-cancel",
    }
    params.update(overrides)
    return params


def make_client(base_url: str, http_client: stripe.HTTPClient) -> stripe.StripeClient:
    return stripe.StripeClient(
        API_KEY,
        base_addresses={"api": base_url},
        max_network_retries=0,
        http_client=http_client,
    )


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with running_webhook_receiver(SECRET) as webhook_receiver:
        yield webhook_receiver


@pytest.fixture
async def emulator(receiver: WebhookReceiver) -> AsyncIterator[str]:
    async with running_emulator(webhooks=[(receiver.url, SECRET)]) as base_url:
        yield base_url


@pytest.fixture
async def client(emulator: str) -> AsyncIterator[stripe.StripeClient]:
    http = stripe.RequestsClient(async_fallback_client=stripe.AIOHTTPClient())
    yield make_client(emulator, http)
    await http.close_async()
    http.close()


@pytest.fixture
def control(emulator: str) -> EmulatorControl:
    return EmulatorControl(emulator)


@pytest.fixture
def params() -> Any:
    """`params(**overrides)` builds Checkout Session parameters."""
    return session_params


@pytest.fixture
def sub_params() -> Any:
    """`sub_params(**overrides)` builds `subscription`-mode Checkout Session parameters."""
    return subscription_params
