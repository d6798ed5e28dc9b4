"""OpenTelemetry tracing of a service, exported over OTLP/HTTP when an endpoint is configured.

With no endpoint (the default) nothing is set up: the OpenTelemetry API stays its no-op self,
no instrumentation is installed and events carry no trace context. With one, the aiohttp server
(health and metrics excluded) and client (Stripe's calls) and asyncpg are instrumented, and
`skileez_events` carries each trace across the broker (`skileez_events.tracing`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

UNTRACED_PATHS = "health/,metrics"
"""Probes and scrapes: a trace each would bury the payments' traces
(OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS overrides it)."""


class _NoLoneQueries(Sampler):
    """A query outside any request or event (the relay's poll, the readiness probe, the retention
    job) is not a trace of its own; every other root span is kept."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if attributes and ("db.system" in attributes or "db.system.name" in attributes):
            return SamplingResult(Decision.DROP)
        return ALWAYS_ON.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return "NoLoneQueries"


def start_tracing(service_name: str, otlp_endpoint: str | None) -> bool:
    """Export this process's spans to `otlp_endpoint` (OTLP/HTTP, `/v1/traces` under it) and
    instrument aiohttp and asyncpg; do nothing and return False when it is not set."""
    if not otlp_endpoint:
        return False
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: service_name}),
        sampler=ParentBased(root=_NoLoneQueries()),
    )
    exporter = OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    os.environ.setdefault("OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS", UNTRACED_PATHS)
    AioHttpServerInstrumentor().instrument()
    AioHttpClientInstrumentor().instrument()
    AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]
    return True
