"""The contracts service's settings, read once from the environment."""

from __future__ import annotations

from skileez_web.settings import ServiceSettings


class ContractsSettings(ServiceSettings):
    port: int = 8001
