"""One payment, one trace: every service exports its spans over OTLP/HTTP to a receiver in this
test, and the webhook's trace runs through payments, both broker hops, contracts and scheduling;
the log lines it causes carry that trace's id. A booking of the contract is a trace of its own,
whose request span links to the payment's trace (where scheduling applied the activation)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto

from skileez_events.testing import wait_until
from skileez_system.client import Emulator, Parties, paid_contract
from skileez_system.system import System, free_port

SERVICES = ("contracts", "payments", "scheduling")


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    links: tuple[tuple[str, str], ...]


class OtlpReceiver:
    """An OTLP/HTTP trace endpoint (`/v1/traces`, protobuf) keeping every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[Span] = []

    async def export(self, request: web.Request) -> web.Response:
        message = ExportTraceServiceRequest.FromString(await request.read())
        for resource_spans in message.resource_spans:
            service = next(
                attribute.value.string_value
                for attribute in resource_spans.resource.attributes
                if attribute.key == "service.name"
            )
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(
                    Span(
                        service,
                        span.name,
                        span.kind,
                        span.trace_id.hex(),
                        span.span_id.hex(),
                        span.parent_span_id.hex(),
                        tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links),
                    )
                    for span in scope_spans.spans
                )
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    def named(self, service: str, name: str) -> list[Span]:
        return [span for span in self.spans if span.service == service and span.name == name]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[OtlpReceiver, str]]:
    receiver = OtlpReceiver()
    app = web.Application()
    app.router.add_post("/v1/traces", receiver.export)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield receiver, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def system(start_system: Any, receiver: tuple[OtlpReceiver, str]) -> System:
    """The whole system, every service exporting its spans to `receiver`, logging at DEBUG with
    access lines, and sampling its gauges every second."""
    _, endpoint = receiver
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "ACCESS_LOG": "true",
        "LOG_LEVEL": "DEBUG",
        "METRICS_INTERVAL_SECONDS": "1",
    }
    return await start_system(extra_env={service: env for service in SERVICES})  # type: ignore[no-any-return]


def log_lines(system: System, service: str) -> list[dict[str, Any]]:
    lines = system.processes[system.process_name(service)].log_path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


async def test_one_payment_is_one_trace_from_the_webhook_to_scheduling(
    system: System, parties: Parties, emulator: Emulator, receiver: tuple[OtlpReceiver, str]
) -> None:
    spans, _ = receiver
    contract_id = (await paid_contract(parties, emulator)).contract["id"]

    def chain_to_the_root() -> list[Span] | None:
        """Scheduling's projection of the activation and its ancestors up to the trace's root,
        once every process has exported them all."""
        found = spans.named("scheduling", "skileez.contracts.ContractActivated.v1 process")
        if not found:
            return None
        by_id = {span.span_id: span for span in spans.spans if span.trace_id == found[0].trace_id}
        chain = [found[0]]
        while chain[-1].parent_id:
            if chain[-1].parent_id not in by_id:
                return None
            chain.append(by_id[chain[-1].parent_id])
        return chain

    try:
        chain = await wait_until(chain_to_the_root, timeout=30)
    except AssertionError as missing:
        raise AssertionError(
            sorted({(span.service, span.name) for span in spans.spans})
        ) from missing
    scheduled, webhook = chain[0], chain[-1]
    trace_id = scheduled.trace_id
    # Stripe's call to the webhook starts the trace
    assert (webhook.service, webhook.name, webhook.kind) == (
        "payments",
        "POST /webhooks/stripe",
        SpanProto.SPAN_KIND_SERVER,
    )
    in_trace = [span for span in spans.spans if span.trace_id == trace_id]
    assert {span.service for span in in_trace} == set(SERVICES)
    by_id = {span.span_id: span for span in in_trace}

    def parent(span: Span) -> Span:
        return by_id[span.parent_id]

    # payments' publish -> contracts' activation -> contracts' publish -> scheduling's projection
    paid = next(
        span
        for span in in_trace
        if span.service == "contracts"
        and span.name == "skileez.payments.PaymentSucceeded.v1 process"
    )
    assert (parent(paid).service, parent(paid).name) == (
        "payments",
        "skileez.payments.PaymentSucceeded.v1 publish",
    )
    assert parent(paid).kind == SpanProto.SPAN_KIND_PRODUCER
    assert (parent(scheduled).service, parent(scheduled).name) == (
        "contracts",
        "skileez.contracts.ContractActivated.v1 publish",
    )
    # the chain runs through both hops: payments' publish, contracts' handler and publish
    assert paid in chain
    assert [span.service for span in chain] == sorted(
        [span.service for span in chain], key=["scheduling", "contracts", "payments"].index
    )

    # the log lines of this payment carry its trace id and the request's correlation id
    handled = {
        service: [line for line in log_lines(system, service) if line.get("trace_id") == trace_id]
        for service in SERVICES
    }
    assert any("/webhooks/stripe" in line["message"] for line in handled["payments"]), handled[
        "payments"
    ]
    assert any(
        line["message"].startswith("handled skileez.payments.PaymentSucceeded.v1")
        for line in handled["contracts"]
    )
    assert any(
        line["message"].startswith("handled skileez.contracts.ContractActivated.v1")
        for line in handled["scheduling"]
    )
    for lines in handled.values():
        assert all(line.get("correlation_id") for line in lines)
    # the events carry the payment's correlation id from contracts to scheduling
    assert (
        len({line["correlation_id"] for line in handled["contracts"] + handled["scheduling"]}) == 1
    )

    # a booking is a trace of its own; its request's span links to the span under which
    # scheduling applied the activation, in the payment's trace
    starts_at = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    booked = await parties.student.call(
        "POST",
        "scheduling",
        f"/contracts/{contract_id}/sessions",
        {"starts_at": starts_at.isoformat(), "duration_minutes": 60},
    )
    assert booked.status == 201, booked.body

    def booking_and_its_publish() -> tuple[Span, Span] | None:
        booking = spans.named("scheduling", "POST /contracts/{contract_id}/sessions")
        published = spans.named("scheduling", "skileez.scheduling.SessionBooked.v1 publish")
        return (booking[0], published[0]) if booking and published else None

    booking, published = await wait_until(booking_and_its_publish, timeout=30)
    assert booking.kind == SpanProto.SPAN_KIND_SERVER
    assert booking.trace_id != trace_id
    assert booking.links == ((trace_id, scheduled.span_id),)
    # scheduling's relay publishes SessionBooked in the booking's trace
    assert published.trace_id == booking.trace_id


async def test_every_service_serves_its_backlog_gauges(system: System, http: Any) -> None:
    """Sampled every second here (METRICS_INTERVAL_SECONDS): the consumer is ready, nothing
    waits in the outbox, and payments counts no held payment."""
    expected = {
        service: [
            f'skileez_consumer_ready{{consumer="{service}"}} 1.0',
            "skileez_outbox_unsent 0.0",
        ]
        for service in SERVICES
    }
    expected["payments"] += ["skileez_payments_held 0.0", "skileez_payments_disputes_open 0.0"]

    async def served() -> bool:
        for service, samples in expected.items():
            async with http.get(f"{system.url(service)}/metrics") as answer:
                text = await answer.text()
            if not all(sample in text.splitlines() for sample in samples):
                return False
        return True

    await wait_until(served, timeout=20)
