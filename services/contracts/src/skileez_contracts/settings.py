"""The contracts service's settings, read once from the environment."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from skileez_contracts.domain.cancellation import CancellationPolicy
from skileez_web.settings import ServiceSettings


class ContractsSettings(ServiceSettings):
    port: int = 8001
    cancellation_student_notice_hours: float = Field(
        default=24.0,
        ge=0,
        le=24 * 365,
        description="when the student ends a contract, a session starting within this many"
        " hours counts as delivered (a late cancellation)",
    )
    cancellation_coach_notice_hours: float = Field(
        default=0.0,
        ge=0,
        le=24 * 365,
        description="the same when the coach or an admin ends it",
    )

    @property
    def cancellation_policy(self) -> CancellationPolicy:
        return CancellationPolicy(
            student_notice=timedelta(hours=self.cancellation_student_notice_hours),
            coach_notice=timedelta(hours=self.cancellation_coach_notice_hours),
        )
