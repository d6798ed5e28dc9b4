"""The emulator's configuration: one typed object, read once at start from CLI and environment."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import stripe

DEFAULT_PORT = 12111
DEFAULT_API_VERSION: str = stripe.api_version


@dataclass(frozen=True)
class WebhookTarget:
    """A URL that receives every event, signed with `secret` (a `whsec_...` string)."""

    url: str
    secret: str
    enabled_events: tuple[str, ...] = ("*",)
    endpoint_id: str | None = None

    def wants(self, event_type: str) -> bool:
        return any(
            pattern == "*"
            or pattern == event_type
            or (pattern.endswith(".*") and event_type.startswith(pattern[:-1]))
            for pattern in self.enabled_events
        )

    def __repr__(self) -> str:  # never show the secret in logs or tracebacks
        return f"WebhookTarget(url={self.url!r}, endpoint_id={self.endpoint_id!r})"


@dataclass(frozen=True)
class Settings:
    """Everything the emulator can be told at start-up."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    # Base URL a browser uses to reach the hosted checkout page; None: the URL the API was
    # called on when the session was created.
    public_url: str | None = None
    webhooks: tuple[WebhookTarget, ...] = field(default_factory=tuple)
    api_version: str = DEFAULT_API_VERSION
    webhook_timeout: float = 10.0
    # Stripe retries for three days with exponential backoff; we compress that.
    webhook_retry_initial_delay: float = 1.0
    webhook_retry_max_delay: float = 60.0
    webhook_max_attempts: int = 8
    webhook_concurrency: int = 16
    # Seconds after which a pending delayed payment settles by itself (as the customer chose
    # on the hosted page); None: only the control API settles it.
    async_settlement_delay: float | None = 10.0
    sweep_interval: float = 1.0
    event_retention_days: int = 30
    log_level: str = "INFO"


def parse_webhook(spec: str) -> WebhookTarget:
    """Parse `URL=SECRET` (the secret is after the last `=`)."""
    url, sep, secret = spec.strip().rpartition("=")
    if not sep or not url or not secret:
        raise ValueError(f"webhook must look like URL=SECRET, got {spec.split('=')[0]!r}...")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"webhook URL must be http(s): {url!r}")
    return WebhookTarget(url=url, secret=secret)


def parse_webhook_list(value: str) -> tuple[WebhookTarget, ...]:
    return tuple(parse_webhook(item) for item in value.split(",") if item.strip())


def _optional_float(value: str) -> float | None:
    return None if value.strip().lower() in ("", "none", "off", "never") else float(value)


def load_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build the settings from command-line flags, falling back to STRIPE_EMULATOR_* variables."""
    env = os.environ if environ is None else environ
    defaults = Settings()

    def env_or(name: str, default: str) -> str:
        return env.get(f"STRIPE_EMULATOR_{name}", default)

    parser = argparse.ArgumentParser(
        prog="python -m stripe_emulator",
        description="A stateful, in-memory Stripe Checkout emulator for tests and local runs.",
    )
    parser.add_argument("--host", default=env_or("HOST", defaults.host))
    parser.add_argument("--port", type=int, default=int(env_or("PORT", str(defaults.port))))
    parser.add_argument("--public-url", default=env_or("PUBLIC_URL", "") or None)
    parser.add_argument(
        "--webhook",
        action="append",
        default=None,
        metavar="URL=SECRET",
        help="webhook target (repeatable); replaces STRIPE_EMULATOR_WEBHOOKS",
    )
    parser.add_argument("--api-version", default=env_or("API_VERSION", defaults.api_version))
    parser.add_argument(
        "--webhook-timeout",
        type=float,
        default=float(env_or("WEBHOOK_TIMEOUT", str(defaults.webhook_timeout))),
    )
    parser.add_argument(
        "--retry-initial-delay",
        type=float,
        default=float(env_or("RETRY_INITIAL_DELAY", str(defaults.webhook_retry_initial_delay))),
    )
    parser.add_argument(
        "--retry-max-delay",
        type=float,
        default=float(env_or("RETRY_MAX_DELAY", str(defaults.webhook_retry_max_delay))),
    )
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=int(env_or("MAX_ATTEMPTS", str(defaults.webhook_max_attempts))),
    )
    parser.add_argument(
        "--async-settlement-delay",
        type=_optional_float,
        default=_optional_float(
            env_or("ASYNC_SETTLEMENT_DELAY", str(defaults.async_settlement_delay))
        ),
        help="seconds until a delayed payment settles by itself; 'never' to disable",
    )
    parser.add_argument("--log-level", default=env_or("LOG_LEVEL", defaults.log_level))
    args = parser.parse_args(argv)

    if args.webhook is not None:
        webhooks = tuple(parse_webhook(spec) for spec in args.webhook)
    else:
        webhooks = parse_webhook_list(env_or("WEBHOOKS", ""))

    return Settings(
        host=args.host,
        port=args.port,
        public_url=args.public_url.rstrip("/") if args.public_url else None,
        webhooks=webhooks,
        api_version=args.api_version,
        webhook_timeout=args.webhook_timeout,
        webhook_retry_initial_delay=args.retry_initial_delay,
        webhook_retry_max_delay=args.retry_max_delay,
        webhook_max_attempts=args.max_attempts,
        async_settlement_delay=args.async_settlement_delay,
        log_level=args.log_level.upper(),
    )
