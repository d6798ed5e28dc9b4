"""Every service logs JSON lines, each tied to the trace and correlation of what caused it.

A line logged while a request or an event is handled carries the current span's `trace_id` and
`span_id` (when tracing is on) and the correlation id (`skileez_events.tracing.CORRELATION_ID`),
so an operator finds every line of one payment with one query.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

from aiohttp import web
from opentelemetry import trace

from skileez_events.tracing import CORRELATION_ID
from skileez_web.problems import Handler

QUIET_AT_INFO = ("stripe",)
"""Loggers whose INFO lines (stripe-python's "Stripe API response ..." of every call the
reconciliation makes) are logged at DEBUG instead."""
FRAMES = ("aiormq", "aio_pika")
"""The AMQP client's loggers, whose DEBUG lines trace every frame: INFO and above only."""

access_log = logging.getLogger("skileez.access")


class JsonLines(logging.Formatter):
    """One JSON object a line: time, level, service, logger, message, and the trace and
    correlation of the work in hand."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = trace.format_trace_id(span.trace_id)
            line["span_id"] = trace.format_span_id(span.span_id)
        correlation_id = CORRELATION_ID.get()
        if correlation_id is not None:
            line["correlation_id"] = correlation_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _info_as_debug(record: logging.LogRecord) -> bool:
    """Demote an INFO line to DEBUG; keep it only where DEBUG is logged."""
    if record.levelno == logging.INFO:
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)
    return True


def log_json_lines(service: str, level: str) -> None:
    """Send every logger's lines at `level` and above to stderr as JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines(service))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for name in FRAMES:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger().level))
    for name in QUIET_AT_INFO:
        quiet = logging.getLogger(name)
        if _info_as_debug not in quiet.filters:
            quiet.addFilter(_info_as_debug)


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A line for every request answered (`ACCESS_LOG`), inside its trace and correlation."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    finally:
        access_log.info(
            "%s %s %d %.1f ms",
            request.method,
            request.path,
            status,
            (time.perf_counter() - started) * 1000,
        )
