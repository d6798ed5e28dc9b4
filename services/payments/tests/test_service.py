"""Configuration, health, readiness, metrics and the OpenAPI document of the running service."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from skileez_events.testing import wait_until
from skileez_payments.entrypoints.resources import ENGINE
from skileez_payments.settings import PaymentsSettings
from skileez_web.readiness import ANSWER_SECONDS

from .conftest import JWT_SECRET, WEBHOOK_SECRET, Payments

STRIPE_SECRET = "sk_test_never_in_logs_123"


def test_the_settings_refuse_a_missing_or_blank_webhook_secret() -> None:
    for blank in (None, " , "):
        values = {"database_url": "postgresql+asyncpg://x/y", "jwt_secret": JWT_SECRET}
        values["stripe_secret_key"] = STRIPE_SECRET
        if blank is not None:
            values["stripe_webhook_secret"] = blank
        with pytest.raises(ValidationError) as refused:
            PaymentsSettings(**values)  # type: ignore[arg-type]
        assert "stripe_webhook_secret" in str(refused.value)
        assert STRIPE_SECRET not in str(refused.value)


def test_the_settings_refuse_a_lookback_shorter_than_a_reconciliation_pass() -> None:
    values = {
        "database_url": "postgresql+asyncpg://x/y",
        "jwt_secret": JWT_SECRET,
        "stripe_secret_key": STRIPE_SECRET,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "reconcile_interval_seconds": 120,
    }
    with pytest.raises(ValidationError, match="RECONCILE_LOOKBACK_SECONDS must be at least"):
        PaymentsSettings(**values, reconcile_lookback_seconds=60)  # type: ignore[arg-type]
    PaymentsSettings(**values, reconcile_lookback_seconds=120)  # type: ignore[arg-type]


def test_serve_refuses_to_start_without_a_webhook_secret_and_prints_no_secret() -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("STRIPE_")}
    environment |= {
        "DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/none",
        "JWT_SECRET": JWT_SECRET,
        "STRIPE_SECRET_KEY": STRIPE_SECRET,
    }
    result = subprocess.run(
        [sys.executable, "-m", "skileez_payments", "serve"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "stripe_webhook_secret" in output
    assert STRIPE_SECRET not in output
    assert JWT_SECRET not in output


def test_several_webhook_secrets_are_read_for_rotation() -> None:
    settings = PaymentsSettings(
        database_url="postgresql+asyncpg://x/y",
        jwt_secret=JWT_SECRET,  # type: ignore[arg-type]
        stripe_secret_key=STRIPE_SECRET,  # type: ignore[arg-type]
        stripe_webhook_secret=f" {WEBHOOK_SECRET} ,whsec_next",  # type: ignore[arg-type]
    )
    assert settings.webhook_secrets == [WEBHOOK_SECRET.encode(), b"whsec_next"]
    assert not settings.stripe_livemode
    assert STRIPE_SECRET not in repr(settings)
    assert settings.port == 8002


async def is_ready(payments: Payments) -> bool:
    return (await payments.client.get("/health/ready")).status == 200


async def test_ready_when_database_and_consumer_are_and_metrics_count_webhooks(
    payments: Payments,
) -> None:
    await wait_until(lambda: is_ready(payments))
    assert (await payments.client.get("/health/live")).status == 200
    await payments.client.post("/webhooks/stripe", data=b"{}")
    metrics = await (await payments.client.get("/metrics")).text()
    assert 'skileez_stripe_webhooks_total{outcome="bad_signature"}' in metrics


async def test_ready_while_every_pooled_connection_is_busy(payments: Payments) -> None:
    """The pool has no overflow: readiness must not wait for it (and read as a lost database)."""
    await wait_until(lambda: is_ready(payments))
    engine = payments.app[ENGINE]
    async with contextlib.AsyncExitStack() as busy:
        for _ in range(engine.pool.size()):  # type: ignore[attr-defined]
            await busy.enter_async_context(engine.connect())
        await asyncio.sleep(ANSWER_SECONDS + 0.2)  # past the cached answer: a fresh check
        response = await payments.client.get("/health/ready")
        assert response.status == 200
        assert (await response.json())["checks"]["database"] is True


async def test_openapi_describes_every_route_the_service_serves(payments: Payments) -> None:
    spec = await (await payments.client.get("/openapi.json")).json()
    paths = spec["paths"]
    expected = {
        ("/contracts/{id}/pay", "get"),
        ("/contracts/{id}/pay", "post"),
        ("/contracts/{id}/payment-success", "get"),
        ("/contracts/{id}/payment-cancel", "get"),
        ("/webhooks/stripe", "post"),
        ("/contracts/{id}/payments", "get"),
        ("/payments/{id}", "get"),
        ("/payments/{id}/refunds", "post"),
        ("/payments/{id}/review", "post"),
        ("/payments/{id}/reviews", "get"),
        ("/payments/unmatched-events", "get"),
    }
    assert expected <= {(path, method) for path, ops in paths.items() for method in ops}
    assert paths["/webhooks/stripe"]["post"]["security"] == []
    assert set(paths["/contracts/{id}/pay"]["post"]["responses"]) >= {"200", "201", "409"}
    served = {
        (resource.canonical, route.method.lower())
        for resource in payments.app.router.resources()
        for route in resource
        if route.method != "HEAD" and resource.canonical != "/openapi.json"
    }
    assert served <= {(path, method) for path, ops in paths.items() for method in ops}


async def test_bad_input_is_a_clear_4xx_problem(payments: Payments) -> None:
    admin = payments.headers("admin-1", "admin", **{"Idempotency-Key": "bad-input-1"})
    not_a_uuid = await payments.client.post("/payments/nope/refunds", json={}, headers=admin)
    assert not_a_uuid.status == 404
    missing = await payments.client.post(
        "/payments/3f0c9a8e-2d1b-4c55-9a43-0d7c5b0e1a22/refunds", json={}, headers=admin
    )
    assert missing.status == 404
    malformed = await payments.client.post(
        "/payments/3f0c9a8e-2d1b-4c55-9a43-0d7c5b0e1a22/refunds",
        data=b"{",
        headers={**admin, "Content-Type": "application/json"},
    )
    assert (malformed.status, (await malformed.json())["code"]) == (400, "malformed_json")
    as_form = await payments.client.post(
        "/payments/3f0c9a8e-2d1b-4c55-9a43-0d7c5b0e1a22/refunds",
        data={"amount": "5"},
        headers=admin,
    )
    assert (as_form.status, (await as_form.json())["code"]) == (415, "unsupported_media_type")
    negative = await payments.client.post(
        "/payments/3f0c9a8e-2d1b-4c55-9a43-0d7c5b0e1a22/refunds",
        json={"amount": -5},
        headers=admin,
    )
    assert negative.status == 422
    contract = await payments.learn_contract()
    bad_session = await payments.client.get(
        f"/contracts/{contract.contract_id}/payment-success?session_id=../x",
        headers=payments.headers(contract.student_id),
    )
    assert bad_session.status == 422
    anonymous = await payments.client.post(f"/contracts/{contract.contract_id}/pay")
    assert anonymous.status == 401
