"""Typed keys of what the application holds for its lifetime."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_events import EventConsumer
from skileez_scheduling.settings import SchedulingSettings

SETTINGS = web.AppKey("settings", SchedulingSettings)
ENGINE = web.AppKey("engine", AsyncEngine)
CONSUMER = web.AppKey("consumer", EventConsumer)
