"""The scheduling service's one settings object, read from the environment at start-up."""

from __future__ import annotations

from pydantic import Field

from skileez_web.settings import ServiceSettings


class SchedulingSettings(ServiceSettings):
    port: int = 8003
    cancellation_allowance: int = Field(
        default=10,
        ge=0,
        description="cancelled sessions a contract may have beyond its session count before"
        " new bookings are refused (409 cancellation_limit_reached)",
    )
