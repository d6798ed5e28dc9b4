"""The outbox and its relay against real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import aio_pika
import asyncpg
import pytest
from sqlalchemy import text
from yarl import URL

from skileez_db.connections import connection, transaction
from skileez_events import CloudEvent
from skileez_events.envelope import CONTENT_TYPE
from skileez_events.schemas import producer_of
from skileez_events.testing import TcpProxy, tap, wait_until
from skileez_events.topology import declare_exchanges


async def unsent_is_zero(service: Any) -> bool:
    return bool(await service.unsent() == 0)


def arrived(received: list[Any], count: int = 1) -> Any:
    async def probe() -> list[Any] | None:
        return list(received) if len(received) >= count else None

    return probe


async def everything_published_has_arrived(
    service: Any, relays: list[Any], received: list[Any]
) -> None:
    """Wait until `relays` have published (and the broker confirmed) every committed event and
    the tap has received all of it: a marker published after those confirms arrives after them."""
    await wait_until(lambda: all(relay.connected for relay in relays))
    for relay in relays:
        await relay.drain(timeout=30)
    marker = "everything-published"
    async with await aio_pika.connect(service.amqp_url) as broker:
        channel = await broker.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(service.names.exchange("contracts"))
        await exchange.publish(aio_pika.Message(b"", message_id=marker), routing_key=marker)
    await wait_until(lambda: any(message.message_id == marker for message in received))
    received[:] = [message for message in received if message.message_id != marker]


async def test_envelope_round_trips_through_amqp_with_every_attribute(
    service: Any, contract_created: Any
) -> None:
    event = contract_created(correlation_id="corr-1", causation_id="req-1")
    async with tap(service.amqp_url, service.names) as received:
        await service.commit_event(event)
        service.start_relay()
        [message] = await wait_until(arrived(received))
    assert CloudEvent.from_json(message.body) == event
    assert message.message_id == event.id
    assert message.correlation_id == "corr-1"
    assert message.type == event.type == "skileez.contracts.ContractCreated.v1"
    assert message.routing_key == event.type
    assert message.exchange == service.names.exchange("contracts")
    assert message.content_type == CONTENT_TYPE
    assert message.delivery_mode == 2
    assert int(message.timestamp.timestamp()) == int(event.time.timestamp())
    decoded = CloudEvent.from_json(message.body)
    assert decoded.causationid == "req-1"
    assert decoded.source == "/skileez/contracts"
    assert decoded.subject == event.subject


async def test_rolled_back_transaction_publishes_nothing(
    service: Any, contract_created: Any
) -> None:
    rolled_back, committed = contract_created(), contract_created()
    async with tap(service.amqp_url, service.names) as received:
        relay = service.start_relay()
        with contextlib.suppress(RuntimeError):
            async with transaction(service.engine) as connection:
                service.outbox.add(connection, rolled_back)
                raise RuntimeError("roll back")
        await service.commit_event(committed)
        await everything_published_has_arrived(service, [relay], received)
    assert [message.message_id for message in received] == [committed.id]


async def test_event_committed_while_broker_is_down_is_published_once_it_is_back(
    service: Any, contract_created: Any
) -> None:
    url = URL(service.amqp_url)
    proxy = TcpProxy(url.host, url.port)
    await proxy.start()
    relay = service.start_relay(amqp_url=proxy.url_for(service.amqp_url))
    await wait_until(lambda: relay.connected)
    await proxy.cut()
    await wait_until(lambda: not relay.connected)

    event = contract_created()
    await service.commit_event(event)
    async with tap(service.amqp_url, service.names) as received:
        await asyncio.sleep(0.5)  # not a wait: proves nothing goes out while the broker is away
        assert received == []
        assert await service.unsent() == 1
        await proxy.start()
        [message] = await wait_until(arrived(received), timeout=30)
    assert message.body == event.to_json()
    assert CloudEvent.from_json(message.body) == event
    await wait_until(lambda: unsent_is_zero(service))
    await proxy.stop()


async def test_relay_killed_between_confirm_and_commit_redelivers_and_inbox_absorbs_it(
    service: Any, contract_created: Any, settled: Callable[[], int]
) -> None:
    # The commit that would keep rows marked sent fails (a deferred trigger), exactly as if the
    # relay died after the confirm.
    async with service.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION refuse_sent() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'relay died'; END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE CONSTRAINT TRIGGER refuse_sent AFTER UPDATE ON outbox"
                " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_sent()"
            )
        )
    event = contract_created()
    service.start_consumer()
    async with tap(service.amqp_url, service.names) as received:
        await service.commit_event(event)
        service.start_relay()
        await wait_until(arrived(received, 2), timeout=30)  # published, not marked, published again
        async with service.engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER refuse_sent ON outbox"))
        await wait_until(lambda: unsent_is_zero(service))
    assert {message.message_id for message in received} == {event.id}
    await wait_until(lambda: settled() >= 2)  # the consumer has handled both copies
    assert await service.effect_count(event.id) == 1


async def test_two_relays_never_publish_the_same_row_and_together_publish_all(
    service: Any, contract_created: Any
) -> None:
    events = [contract_created() for _ in range(400)]
    async with transaction(service.engine) as connection:
        for event in events:
            service.outbox.add(connection, event)
    async with tap(service.amqp_url, service.names) as received:
        relays = [service.start_relay(), service.start_relay()]
        await wait_until(arrived(received, len(events)), timeout=60)
        await wait_until(lambda: unsent_is_zero(service))
        await everything_published_has_arrived(service, relays, received)
    counts = Counter(message.message_id for message in received)
    assert set(counts) == {event.id for event in events}
    assert max(counts.values()) == 1


async def test_drain_on_shutdown_publishes_what_is_committed_before_the_relay_stops(
    service: Any, contract_created: Any
) -> None:
    relay = service.start_relay()
    await wait_until(lambda: relay.connected)
    async with transaction(service.engine) as connection:
        for _ in range(500):
            service.outbox.add(connection, contract_created())
    await relay.drain(timeout=30)
    assert await service.unsent() == 0


async def test_drain_also_waits_for_a_commit_made_while_a_batch_was_being_published(
    service: Any, contract_created: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = service.start_relay(poll_interval=120)
    await wait_until(lambda: relay.connected)
    await relay.drain()  # idle: from now on only a wake-up can make it publish
    publish, held, release = relay._publish, asyncio.Event(), asyncio.Event()
    published: list[str] = []

    async def first_publish_held(exchanges: Any, row: asyncpg.Record) -> None:
        if not held.is_set():
            held.set()
            await release.wait()
        await publish(exchanges, row)
        published.append(row["event_id"])

    monkeypatch.setattr(relay, "_publish", first_publish_held)
    first, second = contract_created(), contract_created()
    await service.commit_event(first)
    await asyncio.wait_for(held.wait(), timeout=5)  # first's batch is claimed and publishing
    await service.commit_event(second)  # after that claim's snapshot
    draining = asyncio.create_task(relay.drain(timeout=30))
    await asyncio.sleep(0)  # one turn of the loop, not a wait: the drain task asks and waits
    release.set()
    await draining
    assert published == [first.id, second.id]


async def test_a_commit_wakes_the_relay_at_once_not_at_its_next_poll(
    service: Any, contract_created: Any
) -> None:
    relay = service.start_relay(poll_interval=120)
    await wait_until(lambda: relay.connected)
    await relay.drain()  # idle: from now on only a wake-up can make it publish
    first, rolled_back, second = contract_created(), contract_created(), contract_created()
    async with tap(service.amqp_url, service.names) as received:
        await service.commit_event(first)
        await wait_until(arrived(received, 1), timeout=5)
        with contextlib.suppress(RuntimeError):
            async with transaction(service.engine) as connection:
                service.outbox.add(connection, rolled_back)
                raise RuntimeError("roll back")
        await service.commit_event(second)
        await wait_until(arrived(received, 2), timeout=5)
    assert [m.message_id for m in received] == [first.id, second.id]


async def test_an_event_is_never_written_outside_a_transaction(
    service: Any, contract_created: Any
) -> None:
    async with connection(service.engine) as bare:
        with pytest.raises(RuntimeError, match="transaction"):
            service.outbox.add(bare, contract_created())
    assert await service.unsent() == 0


async def test_the_events_of_a_transaction_are_written_together_in_order_at_its_commit(
    service: Any, contract_created: Any
) -> None:
    events = [contract_created() for _ in range(5)]
    async with transaction(service.engine) as writing:
        for event in events:
            service.outbox.add(writing, event)
        assert await writing.fetchval("SELECT count(*) FROM outbox") == 0  # staged
    async with connection(service.engine) as reader:
        rows = await reader.fetch("SELECT event_id, body FROM outbox ORDER BY seq")
    assert [row["event_id"] for row in rows] == [event.id for event in events]
    assert [CloudEvent.from_json(row["body"]) for row in rows] == events


async def test_an_outbox_write_that_fails_at_the_commit_rolls_the_transaction_back(
    service: Any, contract_created: Any
) -> None:
    taken = contract_created()
    await service.commit_event(taken)

    async def write_an_effect_and_two_events() -> None:
        async with transaction(service.engine) as writing:
            await writing.execute("INSERT INTO effects (event_id) VALUES ('written')")
            service.outbox.add(writing, contract_created())
            service.outbox.add(writing, taken)  # its id is in the outbox already

    with pytest.raises(asyncpg.UniqueViolationError):
        await write_an_effect_and_two_events()
    assert await service.effect_count() == 0
    assert await service.unsent() == 1


async def test_a_staged_value_too_long_for_its_column_is_refused_not_cut(
    service: Any, contract_created: Any
) -> None:
    events = [contract_created(), contract_created(correlation_id="c" * 65)]  # column: 64

    async def write_both() -> None:
        async with transaction(service.engine) as writing:
            for event in events:
                service.outbox.add(writing, event)

    with pytest.raises(asyncpg.StringDataRightTruncationError):
        await write_both()
    assert await service.unsent() == 0


async def test_an_event_the_broker_refuses_stays_unsent_with_its_error_then_goes_out(
    service: Any, contract_created: Any
) -> None:
    """Claimed rows are marked sent in the claiming statement: one the broker does not confirm
    is marked unsent again, with its error, before the commit, and published on a retry."""
    event = contract_created()
    async with await aio_pika.connect(service.amqp_url) as broker:
        channel = await broker.channel()
        exchanges = await declare_exchanges(channel, service.names)
        refusing = await channel.declare_queue(
            f"{service.names.exchange('test')}refusing",
            arguments={"x-max-length": 0, "x-overflow": "reject-publish"},
        )
        await refusing.bind(exchanges[producer_of(event.type)], routing_key=event.type)
        await service.commit_event(event)
        service.start_relay()

        async def refused_once() -> bool:
            async with service.engine.connect() as conn:
                row = (
                    await conn.execute(text("SELECT sent_at, attempts, last_error FROM outbox"))
                ).one()
            return row.sent_at is None and row.attempts >= 1 and row.last_error is not None

        await wait_until(refused_once, timeout=30)
        async with tap(service.amqp_url, service.names) as received:
            await refusing.delete(if_unused=False, if_empty=False)
            await wait_until(arrived(received), timeout=30)
        await wait_until(lambda: unsent_is_zero(service))
    assert [message.message_id for message in received] == [event.id]
