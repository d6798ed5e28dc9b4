"""The read model fed through the real broker: every producer's events, repeated and in any
order, give the same tables; `rebuild` replays the archive into the same tables."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from skileez_backoffice.adapters.unit_of_work import PostgresUnitOfWork, rebuild_read_model
from skileez_backoffice.service_layer.projection import PROJECTIONS, payment_processing, receive
from skileez_db.connections import asyncpg_dsn
from skileez_events import PaymentProcessing, new_event
from skileez_events.schemas import EVENT_MODELS
from skileez_web.database import migrate

from .conftest import Backoffice, read_model_rows
from .november import at, ids, november

pytestmark = pytest.mark.timeout(120)


async def test_each_payment_ends_in_the_state_its_events_add_up_to(backoffice: Backoffice) -> None:
    events = november()
    await backoffice.publish(*events)
    await backoffice.wait_until_handled(len(events))
    rows = await read_model_rows(backoffice.engine)
    payments = {row[0]: row for row in rows["payments"]}
    status = {
        label: payments[ids(label)][2]
        for label in ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9")
    }
    assert status == {
        "P1": "partially_refunded",
        "P2": "refunded",  # a lost dispute
        "P3": "refunded",  # held, then refunded whole at review
        "P4": "failed",
        "P5": "succeeded",
        "P6": "partially_refunded",
        "P7": "succeeded",  # the dispute was won
        "P8": "partially_refunded",
        "P9": "held_for_review",
    }
    contracts = {row[0]: row[1] for row in rows["contracts"]}
    assert contracts[ids("C2")] == "cancelled"
    assert contracts[ids("C6")] == "active"
    assert contracts[ids("C3")] == "pending"
    assert contracts[ids("C7")] == "pending"
    sessions = {row[0]: row[2] for row in rows["sessions"]}
    assert sessions == {ids("S1"): "scheduled", ids("S2"): "cancelled"}
    assert len(rows["refunds"]) == 5
    assert {row[0]: row[7] for row in rows["disputes"]} == {
        "dp_test_P2": "lost",
        "dp_test_P7": "won",
    }
    assert sorted(row[0] for row in rows["holds"]) == sorted([ids("P3"), ids("P9")])
    timeline = [row for row in rows["payment_timeline"] if row[1] == ids("P1")]
    assert [state for _, state in sorted((row[3], row[2]) for row in timeline)] == [
        "succeeded",
        "partially_refunded",
        "partially_refunded",
    ]


async def test_duplicated_and_reordered_events_give_the_same_tables_as_in_order(
    backoffice: Backoffice,
    create_database: Callable[[str], Awaitable[str]],
) -> None:
    events = november()
    shuffled = events * 2  # every event twice: redeliveries and a relay publishing again
    random.Random(23).shuffle(shuffled)
    await backoffice.publish(*shuffled)
    await backoffice.wait_until_handled(len(events))
    async with backoffice.engine.connect() as conn:
        archived = (await conn.exec_driver_sql("SELECT count(*) FROM event_archive")).scalar_one()
    assert archived == len(events)
    shuffled_rows = await read_model_rows(backoffice.engine)

    # The same events, one at a time in the order they happened, into a database of their own.
    in_order = create_async_engine(await create_database("backoffice_in_order"))
    url = in_order.url.render_as_string(hide_password=False)
    await asyncio.to_thread(migrate, "skileez_backoffice", url)
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for event in events:
            async with connection.transaction():
                data = EVENT_MODELS[event.type].model_validate(event.data)
                await receive(data, PostgresUnitOfWork(connection, event))
    finally:
        await connection.close()
    try:
        assert await read_model_rows(in_order) == shuffled_rows
    finally:
        await in_order.dispose()


async def test_rebuild_replays_the_archive_into_the_tables_live_consumption_made(
    backoffice: Backoffice,
) -> None:
    events = november()
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)
    await backoffice.publish(*shuffled)
    await backoffice.wait_until_handled(len(events))
    live = await read_model_rows(backoffice.engine)
    assert all(live.values())  # every table has rows
    async with backoffice.engine.begin() as conn:  # the read model wrecked
        await conn.exec_driver_sql("DELETE FROM payments")
        await conn.exec_driver_sql("UPDATE contracts SET status = 'active'")
    rebuilt = await rebuild_read_model(backoffice.engine)
    assert (rebuilt.replayed, rebuilt.unknown) == (len(events), 0)
    assert await read_model_rows(backoffice.engine) == live


async def test_an_event_type_no_projection_reads_yet_is_archived_and_acked(
    backoffice: Backoffice,
) -> None:
    """A type added to the catalogue after this version: kept in the archive for a later
    `rebuild`, never dead-lettered."""
    processing = new_event(
        PaymentProcessing(
            payment_id=ids("P10"),
            contract_id=ids("C10"),
            amount=100,
            currency="eur",
            stripe_checkout_session_id="cs_test_P10",
            processing_at=at(2),
        ),
        subject=str(ids("C10")),
    )
    del PROJECTIONS[PaymentProcessing]
    try:
        await backoffice.publish(processing)
        await backoffice.wait_until_handled(1)
    finally:
        PROJECTIONS[PaymentProcessing] = payment_processing
    async with backoffice.engine.connect() as conn:
        archived = (await conn.exec_driver_sql("SELECT event_id FROM event_archive")).scalars()
        assert list(archived) == [processing.id]
        assert (await conn.exec_driver_sql("SELECT count(*) FROM payments")).scalar_one() == 0
    rebuilt = await rebuild_read_model(backoffice.engine)  # its projection is back
    assert rebuilt.replayed == 1
    rows = await read_model_rows(backoffice.engine)
    assert [row[2] for row in rows["payments"]] == ["processing"]
