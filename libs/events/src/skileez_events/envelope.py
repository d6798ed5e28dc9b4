"""The CloudEvents 1.0 envelope (structured JSON mode) that every integration event travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from skileez_events.schemas import EventData, event_type_of, producer_of
from skileez_events.tracing import current_trace_context

CONTENT_TYPE = "application/cloudevents+json"


class CloudEvent(BaseModel):
    """One integration event: routing metadata around a typed `data` payload (kept as a dict)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: AwareDatetime
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: str = Field(min_length=1)
    causationid: str | None = None
    # CloudEvents' distributed-tracing extension: the W3C trace context of what caused it.
    traceparent: str | None = None
    tracestate: str | None = None
    data: dict[str, Any]

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", exclude_none=True))

    @classmethod
    def from_json(cls, body: bytes | str) -> CloudEvent:
        return cls.model_validate_json(body)


def new_event(
    data: EventData,
    *,
    subject: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> CloudEvent:
    """Wrap `data` in a fresh envelope; a new correlation id is minted when none is given, and
    the current span's trace context (if any) goes with it."""
    event_id = str(uuid.uuid4())
    event_type = event_type_of(type(data))
    trace_context = current_trace_context()
    return CloudEvent(
        id=event_id,
        source=f"/skileez/{producer_of(event_type)}",
        type=event_type,
        time=datetime.now(UTC),
        subject=subject,
        correlationid=correlation_id or str(uuid.uuid4()),
        causationid=causation_id,
        data=data.model_dump(mode="json"),
        traceparent=trace_context.get("traceparent"),
        tracestate=trace_context.get("tracestate"),
    )


def caused_by(cause: CloudEvent, data: EventData, *, subject: str) -> CloudEvent:
    """An event caused by `cause`: same correlation id, and `cause` as its causation."""
    return new_event(
        data, subject=subject, correlation_id=cause.correlationid, causation_id=cause.id
    )
