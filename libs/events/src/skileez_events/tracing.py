"""The trace and correlation of the work in hand, carried by events across the broker.

An event records the W3C trace context of the span that caused it as the CloudEvents
distributed-tracing extension (`traceparent`, `tracestate` on the envelope, so the outbox row
keeps it with no column of its own); the relay publishes it in the AMQP headers under a span
continuing that trace, and the consumer handles it under a span continuing the relay's. With no
tracing set up (the OpenTelemetry API's no-op tracer) no context is valid, nothing is recorded
and no span is started for an event that carries none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from opentelemetry import propagate, trace
from opentelemetry.context import Context

TRACE_FIELDS = ("traceparent", "tracestate")

CORRELATION_ID: ContextVar[str | None] = ContextVar("skileez_correlation_id", default=None)
"""The correlation id of the request or event being handled, for the log lines it causes."""

tracer = trace.get_tracer("skileez_events")

_IN_BODY = re.compile(rb'"(traceparent|tracestate)":"([^"\\]{1,512})"')


def current_trace_context() -> dict[str, str]:
    """`traceparent` (and `tracestate`) of the current span; empty when no span is recording."""
    if not trace.get_current_span().get_span_context().is_valid:
        return {}
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {name: carrier[name] for name in TRACE_FIELDS if name in carrier}


def trace_context_in(body: bytes) -> dict[str, str]:
    """The trace extension attributes of an envelope's JSON, without parsing the whole of it."""
    if b'"traceparent"' not in body:
        return {}
    return {name.decode(): value.decode() for name, value in _IN_BODY.findall(body)}


def continued(carrier: Mapping[str, object]) -> Context | None:
    """The context to continue from `traceparent` in `carrier`; None when it carries none."""
    text = {name: _text(carrier[name]) for name in TRACE_FIELDS if carrier.get(name)}
    if "traceparent" not in text:
        return None
    return propagate.extract(text)


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


@contextmanager
def correlated(correlation_id: str) -> Iterator[None]:
    """Log lines inside carry `correlation_id`."""
    token = CORRELATION_ID.set(correlation_id)
    try:
        yield
    finally:
        CORRELATION_ID.reset(token)
