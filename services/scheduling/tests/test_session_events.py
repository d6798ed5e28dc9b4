"""SessionBooked and SessionCancelled: written to the outbox in the transaction of the booking or
cancellation, published by the relay to `{ns}scheduling.events` on the real broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from skileez_db.connections import connection
from skileez_events import CloudEvent, SessionBooked, SessionCancelled, event_type_of
from skileez_events.testing import tap, wait_until
from skileez_scheduling.adapters.tables import contracts, outbox, sessions
from skileez_scheduling.adapters.unit_of_work import unit_of_work
from skileez_scheduling.domain.commands import BookSession, CancelSession
from skileez_scheduling.domain.contracts import ContractView
from skileez_scheduling.domain.errors import SessionOverlap
from skileez_scheduling.entrypoints.sessions import link_to_activation
from skileez_scheduling.service_layer import booking
from skileez_web.database import migrate

from .conftest import Scheduling, activated, cancelled, in_days

pytestmark = pytest.mark.timeout(60)

BOOKED = event_type_of(SessionBooked)
CANCELLED = event_type_of(SessionCancelled)
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def outbox_events(scheduling: Scheduling, event_type: str) -> list[CloudEvent]:
    query = select(outbox.table.c.body).where(outbox.table.c.event_type == event_type)
    async with scheduling.engine.connect() as conn:
        rows = (await conn.execute(query.order_by(outbox.table.c.seq))).scalars()
        return [CloudEvent.from_json(body) for body in rows]


async def all_sent(scheduling: Scheduling) -> bool:
    query = select(func.count()).where(outbox.table.c.sent_at.is_(None))
    async with scheduling.engine.connect() as conn:
        return (await conn.execute(query.select_from(outbox.table))).scalar_one() == 0


async def test_a_booking_is_published_on_schedulings_exchange(
    scheduling: Scheduling, amqp_url: str
) -> None:
    contract_id = await scheduling.active_contract()
    starts_at = in_days(2)
    async with tap(amqp_url, scheduling.names, routing_key=BOOKED) as published:
        status, session = await scheduling.call(
            "POST",
            f"/contracts/{contract_id}/sessions",
            json={"starts_at": starts_at, "duration_minutes": 45},
            headers={"X-Correlation-Id": "booking-of-a-test"},
        )
        assert status == 201
        await wait_until(lambda: published)
    [message] = published
    assert (message.exchange, message.routing_key) == (
        scheduling.names.exchange("scheduling"),
        BOOKED,
    )
    envelope = CloudEvent.from_json(message.body)
    assert (envelope.subject, envelope.correlationid) == (str(contract_id), "booking-of-a-test")
    assert SessionBooked.model_validate(envelope.data) == SessionBooked(
        session_id=session["id"],
        contract_id=contract_id,
        starts_at=datetime.fromisoformat(starts_at),
        duration_minutes=45,
        by="student-1",
        at=datetime.fromisoformat(session["created_at"]),
    )
    assert [event.id for event in await outbox_events(scheduling, BOOKED)] == [envelope.id]
    await wait_until(lambda: all_sent(scheduling))


async def test_a_refused_booking_publishes_nothing(scheduling: Scheduling) -> None:
    contract_id = await scheduling.active_contract()
    assert (await scheduling.book(contract_id, in_days(1)))[0] == 201
    status, problem = await scheduling.book(contract_id, in_days(1), user="coach-1")
    assert (status, problem["code"]) == (409, "overlap")
    assert len(await outbox_events(scheduling, BOOKED)) == 1


async def test_a_participants_cancellation_is_published_by_them(
    scheduling: Scheduling, amqp_url: str
) -> None:
    contract_id = await scheduling.active_contract()
    _, session = await scheduling.book(contract_id, in_days(1))
    async with tap(amqp_url, scheduling.names, routing_key=CANCELLED) as published:
        status, done = await scheduling.call(
            "POST", f"/sessions/{session['id']}/cancel", user="coach-1"
        )
        assert status == 200
        await wait_until(lambda: published)
    [message] = published
    event = SessionCancelled.model_validate(CloudEvent.from_json(message.body).data)
    assert (str(event.session_id), event.by) == (session["id"], "coach-1")
    assert event.at == datetime.fromisoformat(done["cancelled_at"])
    assert event.starts_at == datetime.fromisoformat(session["starts_at"])
    status, _ = await scheduling.call("POST", f"/sessions/{session['id']}/cancel")
    assert status == 409
    assert len(await outbox_events(scheduling, CANCELLED)) == 1


async def test_a_contracts_cancellation_cancels_its_sessions_to_come_by_system_once(
    scheduling: Scheduling, amqp_url: str
) -> None:
    """Redelivered five times and followed by another cancellation: one SessionCancelled per
    session to come, caused by the first; the session that took place stays; booking is 409."""
    contract_id = await scheduling.active_contract(session_count=4)
    booked = [(await scheduling.book(contract_id, in_days(days)))[1] for days in (1, 2)]
    held = datetime.now(UTC) - timedelta(days=2)
    async with scheduling.engine.begin() as conn:
        await conn.execute(
            insert(sessions).values(
                id=uuid.uuid4(),
                contract_id=contract_id,
                student_id="student-1",
                coach_id="coach-1",
                starts_at=held,
                ends_at=held + timedelta(hours=1),
                status="scheduled",
                booked_by="student-1",
                created_at=held - timedelta(days=1),
            )
        )
    cancellation = cancelled(contract_id, reason="refunded")
    async with tap(amqp_url, scheduling.names, routing_key=CANCELLED) as published:
        await scheduling.publish(*[cancellation] * 5)
        await scheduling.wait_for_status(contract_id, "closed")
        await scheduling.publish(cancelled(contract_id, reason="a later reason"))
        await scheduling.settle()
        await wait_until(lambda: all_sent(scheduling))
        await wait_until(lambda: len(published) >= 2)
        await asyncio.sleep(0.3)  # time for a stray third copy to arrive
    assert len(published) == 2
    envelopes = [CloudEvent.from_json(message.body) for message in published]
    assert {envelope.id for envelope in envelopes} == {
        event.id for event in await outbox_events(scheduling, CANCELLED)
    }
    events = [SessionCancelled.model_validate(envelope.data) for envelope in envelopes]
    assert {str(event.session_id) for event in events} == {session["id"] for session in booked}
    assert {event.by for event in events} == {"system"}
    for envelope in envelopes:
        assert (envelope.causationid, envelope.correlationid) == (
            cancellation.id,
            cancellation.correlationid,
        )
    status, problem = await scheduling.book(contract_id, in_days(3))
    assert (status, problem["code"]) == (409, "contract_closed")
    assert len(await outbox_events(scheduling, BOOKED)) == 2


async def test_the_event_commits_with_the_booking_or_cancellation_or_not_at_all(
    create_database: Callable[[str], Awaitable[str]],
) -> None:
    """No relay here, so each outbox row is as its transaction wrote it: its `xmin` (the id of
    the transaction that wrote it) is that of the session's row."""
    url = await create_database("scheduling_outbox")
    await asyncio.to_thread(migrate, "skileez_scheduling", url)
    engine = create_async_engine(url)
    contract_id = uuid.uuid4()
    now = datetime.now(UTC)
    command = BookSession(contract_id, "student-1", now + timedelta(days=1), 60, now)

    async def written_by() -> tuple[dict[str, str], list[str]]:
        """The transaction of each session's row, and of each outbox row in order."""
        async with connection(engine) as conn:
            by_session = {
                str(row["id"]): row["xmin"]
                for row in await conn.fetch("SELECT id, xmin::text FROM sessions")
            }
            rows = await conn.fetch("SELECT xmin::text FROM outbox ORDER BY seq")
            return by_session, [row["xmin"] for row in rows]

    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(contracts).values(
                    id=contract_id,
                    status="active",
                    student_id="student-1",
                    coach_id="coach-1",
                    session_count=3,
                )
            )
        async with unit_of_work(engine) as uow:
            session = (await booking.book_session(command, uow, cancellation_allowance=1)).session
        by_session, by_event = await written_by()
        assert by_event == [by_session[str(session.id)]]

        with pytest.raises(SessionOverlap):
            async with unit_of_work(engine) as uow:
                await booking.book_session(command, uow, cancellation_allowance=1)
        later = BookSession(contract_id, "coach-1", now + timedelta(days=2), 60, now)
        with pytest.raises(RuntimeError):
            await book_then_fail(engine, later)
        assert await written_by() == (by_session, by_event)

        async with unit_of_work(engine) as uow:
            await booking.cancel_session(CancelSession(session.id, "coach-1", now), uow)
        by_session, by_event = await written_by()
        assert len(by_event) == 2
        assert by_event[1] == by_session[str(session.id)] != by_event[0]
    finally:
        await engine.dispose()


async def book_then_fail(engine: AsyncEngine, command: BookSession) -> None:
    """A request whose booking succeeds and which then fails: its transaction rolls back."""
    async with unit_of_work(engine) as uow:
        await booking.book_session(command, uow, cancellation_allowance=1)
        raise RuntimeError("the request fails after the booking")


async def test_the_activation_keeps_the_trace_context_its_message_came_with(
    scheduling: Scheduling,
) -> None:
    contract_id = uuid.uuid4()
    traced = activated(contract_id).model_copy(update={"traceparent": TRACEPARENT})
    await scheduling.publish(traced)
    await scheduling.wait_for_status(contract_id, "active")
    again = activated(contract_id).model_copy(
        update={"traceparent": "00-11111111111111111111111111111111-2222222222222222-01"}
    )
    await scheduling.publish(again)
    await scheduling.wait_until_handled(2)
    query = select(contracts.c.activation_traceparent).where(contracts.c.id == contract_id)
    async with scheduling.engine.connect() as conn:
        assert (await conn.execute(query)).scalar_one() == TRACEPARENT


def test_a_bookings_span_links_to_the_activations() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("POST /contracts/{contract_id}/sessions") as span:
        link_to_activation(ContractView(uuid.uuid4(), activation_traceparent=TRACEPARENT))
    [link] = span.links  # type: ignore[attr-defined]
    assert (f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") == (
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
    )
    assert link.context.is_remote
    with tracer.start_as_current_span("POST /contracts/{contract_id}/sessions") as untraced:
        link_to_activation(ContractView(uuid.uuid4()))
    assert not untraced.links  # type: ignore[attr-defined]
    assert not trace.get_current_span().get_span_context().is_valid
