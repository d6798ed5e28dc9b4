"""The scheduling service's one settings object, read from the environment at start-up."""

from __future__ import annotations

from skileez_web.settings import ServiceSettings


class SchedulingSettings(ServiceSettings):
    port: int = 8003

    def payment_url(self, contract_id: object) -> str:
        """Where a student pays for a pending contract (the payments service's page)."""
        return f"{self.payments_url.rstrip('/')}/contracts/{contract_id}/pay"

    def contract_url(self, contract_id: object) -> str:
        """The contract's own page (the contracts service's)."""
        return f"{self.contracts_url.rstrip('/')}/contracts/{contract_id}"
