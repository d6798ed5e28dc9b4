"""The trace context an event carries: taken from the current span when one is valid, kept in
the envelope's JSON (the outbox row), read back from it and from AMQP headers."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from skileez_events import ContractCreated, new_event
from skileez_events.envelope import CloudEvent
from skileez_events.tracing import continued, trace_context_in

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def created() -> ContractCreated:
    return ContractCreated.model_validate(
        {
            "contract_id": "00000000-0000-0000-0000-0000000000c1",
            "proposal_id": "00000000-0000-0000-0000-0000000000a1",
            "student_id": "s1",
            "coach_id": "k1",
            "title": "Endgames",
            "session_count": 4,
            "amount": 18_000,
            "currency": "eur",
            "created_at": "2026-12-07T10:00:00Z",
        }
    )


def test_an_event_made_outside_any_span_carries_no_trace_context() -> None:
    event = new_event(created(), subject="c1")
    assert event.traceparent is None
    assert b"traceparent" not in event.to_json()
    assert trace_context_in(event.to_json()) == {}


def test_an_event_made_in_a_span_carries_its_traceparent_through_the_outbox_body() -> None:
    context = SpanContext(
        0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, False, TraceFlags(1)
    )
    with trace.use_span(NonRecordingSpan(context)):
        event = new_event(created(), subject="c1")
    assert event.traceparent == TRACEPARENT
    body = event.to_json()
    assert trace_context_in(body) == {"traceparent": TRACEPARENT}
    assert CloudEvent.from_json(body).traceparent == TRACEPARENT
    restored = trace.get_current_span(continued(trace_context_in(body))).get_span_context()
    assert (restored.trace_id, restored.span_id) == (context.trace_id, context.span_id)
    assert restored.is_remote


def test_amqp_headers_may_carry_the_context_as_bytes_and_nothing_is_none() -> None:
    span = trace.get_current_span(continued({"traceparent": TRACEPARENT.encode()}))
    assert span.get_span_context().trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736
    assert continued({}) is None
    assert continued({"traceparent": None, "tracestate": "a=b"}) is None
