"""Log lines are JSON, carry the trace and correlation of the work in hand, and stripe-python's
per-request INFO lines are logged at DEBUG."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from skileez_events.tracing import correlated
from skileez_web.logs import log_json_lines

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN_ID = 0x00F067AA0BA902B7


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What the root logger writes, as `log_json_lines` sets it up at INFO; restored after."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    log_json_lines("payments", "INFO")
    written = io.StringIO()
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(written)
    yield written
    root.handlers[:] = saved[1]
    root.setLevel(saved[0])


def logged(lines: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in lines.getvalue().splitlines()]


def test_a_line_in_a_span_and_a_correlation_carries_both(lines: io.StringIO) -> None:
    span = NonRecordingSpan(SpanContext(TRACE_ID, SPAN_ID, False, TraceFlags(1)))
    with trace.use_span(span), correlated("corr-1"):
        logging.getLogger("skileez_payments.webhook").info("applied %s", "evt_1")
    logging.getLogger("skileez_payments.webhook").warning("outside")
    inside, outside = logged(lines)
    assert inside["message"] == "applied evt_1"
    assert (inside["service"], inside["level"], inside["logger"]) == (
        "payments",
        "INFO",
        "skileez_payments.webhook",
    )
    assert inside["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert inside["span_id"] == "00f067aa0ba902b7"
    assert inside["correlation_id"] == "corr-1"
    assert "trace_id" not in outside
    assert "correlation_id" not in outside


def test_an_exception_is_one_line_with_its_traceback(lines: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("skileez").exception("failed")
    [line] = logged(lines)
    assert "ValueError: boom" in str(line["exception"])


def test_stripes_request_lines_are_debug(lines: io.StringIO) -> None:
    stripe = logging.getLogger("stripe")
    stripe.info("message='Stripe API response' path=/v1/events response_code=200")
    stripe.warning("message='Stripe API error'")
    [warning] = logged(lines)
    assert warning["level"] == "WARNING"
    logging.getLogger().setLevel(logging.DEBUG)
    stripe.info("message='Stripe API response' path=/v1/events response_code=200")
    *_, demoted = logged(lines)
    assert demoted["level"] == "DEBUG"
