"""The backoffice's one settings object, read from the environment at start-up."""

from __future__ import annotations

from pydantic import Field

from skileez_web.settings import ServiceSettings


class BackofficeSettings(ServiceSettings):
    port: int = 8004
    backoffice_url: str = Field(
        default="http://127.0.0.1:8004", description="the console's public base URL, for links"
    )
    contracts_api_url: str = Field(
        default="http://127.0.0.1:8001",
        description="where the backoffice calls contracts' API (in a cluster, its Service)",
    )
    payments_api_url: str = Field(
        default="http://127.0.0.1:8002",
        description="where the backoffice calls payments' API (reviews, refunds, unmatched"
        " events, dead letters)",
    )
    scheduling_api_url: str = Field(
        default="http://127.0.0.1:8003", description="where the backoffice calls scheduling's API"
    )
    service_call_timeout: float = Field(
        default=5.0, gt=0, description="seconds a call to another service may take"
    )

    @property
    def service_apis(self) -> dict[str, str]:
        """Each other service's API base URL, by name."""
        return {
            "contracts": self.contracts_api_url.rstrip("/"),
            "payments": self.payments_api_url.rstrip("/"),
            "scheduling": self.scheduling_api_url.rstrip("/"),
        }
