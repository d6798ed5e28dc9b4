"""The scheduling service's one settings object, read from the environment at start-up."""

from __future__ import annotations

from skileez_web.settings import ServiceSettings


class SchedulingSettings(ServiceSettings):
    port: int = 8003
