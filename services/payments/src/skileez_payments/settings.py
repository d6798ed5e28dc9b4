"""The payments service's one settings object, read from the environment at start-up."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from skileez_web.rate_limit import Rate
from skileez_web.settings import RetentionSettings, ServiceSettings


class PaymentsRetentionSettings(RetentionSettings):
    """What payments' `prune` reads: the shared retention settings and the Stripe bodies' age."""

    stripe_event_body_retention_days: int = Field(
        default=90,
        ge=1,
        description="raw bodies of stored Stripe events are cleared this long after receipt",
    )


class PaymentsSettings(ServiceSettings, PaymentsRetentionSettings):
    port: int = 8002
    stripe_secret_key: SecretStr
    stripe_publishable_key: str = ""
    stripe_webhook_secret: SecretStr = Field(
        description="whsec_... ; several comma-separated while a secret is being rotated"
    )
    stripe_api_base: str = "https://api.stripe.com"
    stripe_max_network_retries: int = Field(default=2, ge=0, le=10)
    stripe_timeout_seconds: float = Field(default=20.0, gt=0)
    checkout_expiry_minutes: int = Field(default=30, ge=30, le=24 * 60)
    webhook_tolerance_seconds: int = Field(default=300, gt=0)
    reconcile_interval_seconds: float = Field(default=60.0, gt=0)
    reconcile_lookback_seconds: int = Field(default=3600, gt=0)
    stripe_route_limit_per_minute: float = Field(
        default=10.0,
        gt=0,
        description="requests a minute each user may make to each route that calls Stripe,"
        " in each replica",
    )
    stripe_route_limit_burst: int = Field(
        default=10, ge=1, description="requests a user may make at once to each such route"
    )

    @field_validator("stripe_webhook_secret")
    @classmethod
    def _has_a_secret(cls, value: SecretStr) -> SecretStr:
        if not webhook_secrets_of(value):
            raise ValueError("STRIPE_WEBHOOK_SECRET is required to verify Stripe webhooks")
        return value

    @model_validator(mode="after")
    def _looks_back_over_a_pass(self) -> PaymentsSettings:
        if self.reconcile_lookback_seconds < self.reconcile_interval_seconds:
            raise ValueError(
                "RECONCILE_LOOKBACK_SECONDS must be at least RECONCILE_INTERVAL_SECONDS: an"
                " unmatched refund or dispute is retried by the passes within the lookback"
            )
        return self

    @property
    def stripe_route_rate(self) -> Rate:
        return Rate(self.stripe_route_limit_per_minute, self.stripe_route_limit_burst)

    @property
    def webhook_secrets(self) -> list[bytes]:
        return webhook_secrets_of(self.stripe_webhook_secret)

    @property
    def stripe_livemode(self) -> bool:
        """Live keys see live events only; anything else is a test-mode key."""
        return self.stripe_secret_key.get_secret_value().startswith(("sk_live_", "rk_live_"))


def webhook_secrets_of(value: SecretStr) -> list[bytes]:
    return [part.strip().encode() for part in value.get_secret_value().split(",") if part.strip()]
