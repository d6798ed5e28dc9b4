"""Configuration from flags and environment, and `python -m stripe_emulator` as a process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys

import aiohttp
import pytest

from stripe_emulator.settings import DEFAULT_PORT, load_settings, parse_webhook
from stripe_emulator.testing import wait_until


def test_defaults() -> None:
    settings = load_settings([], {})
    assert settings.port == DEFAULT_PORT == 12111
    assert settings.webhooks == ()


def test_webhooks_from_environment() -> None:
    settings = load_settings(
        [],
        {
            "STRIPE_EMULATOR_WEBHOOKS": "http://a:8002/webhooks/stripe=whsec_a,"
            "http://b/x?y=1=whsec_b",
            "STRIPE_EMULATOR_PORT": "9999",
        },
    )
    assert [(t.url, t.secret) for t in settings.webhooks] == [
        ("http://a:8002/webhooks/stripe", "whsec_a"),
        ("http://b/x?y=1", "whsec_b"),
    ]
    assert settings.port == 9999
    assert "whsec_a" not in repr(settings), "secrets stay out of logs and tracebacks"


def test_flags_replace_environment() -> None:
    settings = load_settings(
        ["--webhook", "http://one/h=whsec_1", "--webhook", "http://two/h=whsec_2", "--port", "1"],
        {"STRIPE_EMULATOR_WEBHOOKS": "http://env/h=whsec_env"},
    )
    assert [t.url for t in settings.webhooks] == ["http://one/h", "http://two/h"]
    assert settings.port == 1
    never = load_settings(["--async-settlement-delay", "never"], {})
    assert never.async_settlement_delay is None


def test_bad_webhook_spec_is_refused() -> None:
    with pytest.raises(ValueError, match="URL=SECRET"):
        parse_webhook("http://no-secret")
    with pytest.raises(ValueError, match="http"):
        parse_webhook("ftp://x=whsec")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_python_m_stripe_emulator_serves() -> None:
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "stripe_emulator",
        "--port",
        str(port),
        env={**os.environ, "STRIPE_EMULATOR_WEBHOOKS": "http://127.0.0.1:1/h=whsec_secret_x"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with aiohttp.ClientSession() as http:

            async def healthy() -> bool:
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"http://127.0.0.1:{port}/_emulator/health") as r:
                        return r.status == 200
                return False

            assert await wait_until(healthy, timeout=20, what="the emulator process")
    finally:
        process.terminate()
        output, _ = await process.communicate()
    log = output.decode()
    assert "http://127.0.0.1:1/h" in log
    assert "whsec_secret_x" not in log, "never log secrets"
