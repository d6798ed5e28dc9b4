"""The settings every service shares; each service subclasses it into its one settings object."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Read once from the environment at start-up (DESIGN.md "Running")."""

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
