"""The settings every service shares; each service subclasses it into its one settings object."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Read once from the environment at start-up (README.md, "Configuration")."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    database_url: str = Field(description="postgresql+asyncpg://... of the service's own database")
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    events_namespace: str = ""
    host: str = "0.0.0.0"
    port: int
    jwt_secret: SecretStr
    contracts_url: str = "http://127.0.0.1:8001"
    payments_url: str = "http://127.0.0.1:8002"
    scheduling_url: str = "http://127.0.0.1:8003"
    log_level: str = "INFO"
    db_pool_size: int = 10
    shutdown_timeout: float = 15.0

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
