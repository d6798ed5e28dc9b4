"""The settings every service shares; each service subclasses it into its one settings object."""

from __future__ import annotations

from functools import cached_property
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from skileez_web.auth import TokenRules

MIN_JWT_SECRET_BYTES = 32
PLACEHOLDER_MARKERS = ("change-me", "changeme")
"""A JWT_SECRET containing one of these (any case) is a template's value, known to anyone who
read it: `CHANGE-ME-...` of deploy/k8s, `...-change-me-...` of .env.example."""


SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
"""libpq's `sslmode` values, which asyncpg takes from DATABASE_URL (deploy/README.md, "TLS")."""


class DatabaseSettings(BaseSettings):
    """What `migrate` reads: the database URL alone, so a migration Job holds no other secret."""

    # Errors never echo the values given: a refused JWT_SECRET, or DATABASE_URL with its
    # password, would be printed in full.
    model_config = SettingsConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)

    database_url: str = Field(
        description="postgresql+asyncpg://... of the service's own database; ?sslmode=... for TLS"
    )
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _a_url_asyncpg_connects_to(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            url = None
        if url is None or url.drivername != "postgresql+asyncpg":
            raise ValueError(
                "DATABASE_URL must be postgresql+asyncpg://user:password@host:port/database"
            )
        if "ssl" in url.query:
            raise ValueError("DATABASE_URL: for TLS, give libpq's sslmode=..., not ssl=...")
        mode = url.query.get("sslmode")
        if isinstance(mode, tuple):
            raise ValueError("DATABASE_URL: give sslmode once")
        if mode is not None and mode not in SSL_MODES:
            raise ValueError(f"DATABASE_URL: sslmode must be one of {', '.join(SSL_MODES)}")
        return value


class RetentionSettings(DatabaseSettings):
    """What `prune` reads: the database URL and the retention ages, no other secret."""

    retention_batch_size: int = Field(default=500, ge=1, le=10_000)
    outbox_retention_days: int = Field(
        default=7, ge=1, description="sent outbox rows are pruned this long after they were sent"
    )
    inbox_retention_days: int = Field(
        default=30,
        ge=1,
        description="inbox rows are pruned this long after their event was handled; keep it"
        " longer than dead letters are kept (skileez_events.inbox)",
    )


class ServiceSettings(RetentionSettings):
    """Read once from the environment at start-up (README.md, "Configuration")."""

    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/", description="amqp://..., amqps://... for TLS"
    )
    events_namespace: str = ""
    host: str = "0.0.0.0"
    port: int
    jwt_secret: SecretStr
    jwt_audience: str | None = Field(
        default=None, description="where set, tokens must carry this `aud` (and are minted with it)"
    )
    jwt_issuer: str | None = Field(
        default=None, description="where set, tokens must carry this `iss` (and are minted with it)"
    )
    contracts_url: str = "http://127.0.0.1:8001"
    payments_url: str = "http://127.0.0.1:8002"
    scheduling_url: str = "http://127.0.0.1:8003"
    db_pool_size: int = 10
    shutdown_timeout: float = 15.0
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
    metrics_interval_seconds: float = Field(
        default=15.0,
        gt=0,
        description="how often the backlog gauges (outbox, queues, dead letters) are sampled",
    )
    access_log: bool = Field(
        default=False, description="log a JSON line for every HTTP request answered"
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description="where set (http://collector:4318), traces are exported over OTLP/HTTP;"
        " unset, tracing is off",
    )

    @field_validator("jwt_secret")
    @classmethod
    def _a_secret_nobody_else_knows(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if len(secret.encode()) < MIN_JWT_SECRET_BYTES:
            raise ValueError(
                f"JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes: generate one, e.g."
                " `openssl rand -hex 32`"
            )
        if any(marker in secret.lower() for marker in PLACEHOLDER_MARKERS):
            raise ValueError(
                "JWT_SECRET is a template's placeholder (it contains 'change-me'), which"
                " would let anyone mint an admin token: generate one, e.g. `openssl rand -hex 32`"
            )
        return value

    @field_validator("amqp_url")
    @classmethod
    def _a_url_aio_pika_connects_to(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("amqp", "amqps"):
            raise ValueError(
                "AMQP_URL must be amqp://... or, over TLS, amqps://..."
                " (user:password@host:port/vhost)"
            )
        return value

    @field_validator("jwt_audience", "jwt_issuer", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @cached_property
    def token_rules(self) -> TokenRules:
        """What a token must satisfy on this service (`skileez_web.auth`)."""
        return TokenRules(self.jwt_secret.get_secret_value(), self.jwt_audience, self.jwt_issuer)

    @property
    def links(self) -> Links:
        """The public URLs of the pages of every service, for links and redirects."""
        return Links(self.contracts_url, self.payments_url, self.scheduling_url)


class Links:
    """Where each service's pages are, from their public base URLs: built here, once."""

    def __init__(self, contracts_url: str, payments_url: str, scheduling_url: str) -> None:
        self._contracts = contracts_url.rstrip("/")
        self._payments = payments_url.rstrip("/")
        self._scheduling = scheduling_url.rstrip("/")

    def home(self) -> str:
        """Where a person starts: their contracts when signed in, else how to sign in."""
        return f"{self._contracts}/"

    def contracts(self) -> str:
        return f"{self._contracts}/contracts"

    def proposals(self) -> str:
        return f"{self._contracts}/proposals"

    def proposal(self, proposal_id: UUID) -> str:
        return f"{self._contracts}/proposals/{proposal_id}"

    def notifications(self) -> str:
        return f"{self._contracts}/notifications"

    def sessions(self) -> str:
        """The person's sessions, of all their contracts."""
        return f"{self._scheduling}/sessions"

    def contract(self, contract_id: UUID) -> str:
        return f"{self._contracts}/contracts/{contract_id}"

    def pay(self, contract_id: UUID) -> str:
        return f"{self._payments}/contracts/{contract_id}/pay"

    def schedule(self, contract_id: UUID) -> str:
        return f"{self._scheduling}/contracts/{contract_id}/schedule"

    def payment_success(self, contract_id: UUID) -> str:
        return f"{self._payments}/contracts/{contract_id}/payment-success"

    def payment_cancel(self, contract_id: UUID) -> str:
        return f"{self._payments}/contracts/{contract_id}/payment-cancel"
