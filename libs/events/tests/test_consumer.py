"""The idempotent inbox consumer against real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

import aio_pika
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from yarl import URL

from skileez_events import (
    CloudEvent,
    ContractCreated,
    Incoming,
    UnprocessableEvent,
    caused_by,
    event_type_of,
)
from skileez_events.deadletters import list_dead_letters, replay
from skileez_events.envelope import CONTENT_TYPE
from skileez_events.testing import TcpProxy, wait_until

QUEUE_TYPE = event_type_of(ContractCreated)


async def publish_raw(service: Any, body: bytes, message_id: str, copies: int = 1) -> None:
    """Publish straight to the contracts exchange, as any producer (or a buggy one) could."""
    async with await aio_pika.connect(service.amqp_url) as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(service.names.exchange("contracts"))
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(body, message_id=message_id, content_type=CONTENT_TYPE),
                    routing_key=QUEUE_TYPE,
                )
                for _ in range(copies)
            )
        )


async def queue_depth(service: Any, queue: str) -> int:
    async with await aio_pika.connect(service.amqp_url) as connection:
        declared = await (await connection.channel()).declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)


async def test_two_hundred_concurrent_deliveries_of_one_event_have_one_effect(
    service: Any, contract_created: Any, settled: Callable[[], int]
) -> None:
    consumer = service.start_consumer(prefetch=100)
    await wait_until(lambda: consumer.ready)
    event = contract_created()
    await publish_raw(service, event.to_json(), event.id, copies=200)
    await wait_until(lambda: settled() == 200)
    assert await service.effect_count(event.id) == 1
    async with service.engine.connect() as conn:
        inbox = service.outbox.table.metadata.tables["inbox"]
        rows = await conn.execute(select(func.count()).select_from(inbox))
        assert rows.scalar_one() == 1


async def test_poison_message_is_dead_lettered_and_the_consumer_goes_on(
    service: Any, contract_created: Any
) -> None:
    consumer = service.start_consumer()
    await wait_until(lambda: consumer.ready)
    good = contract_created()
    await publish_raw(service, b"{not json", "poison-1")
    unknown = good.model_copy(update={"id": "wrong-data", "data": {"contract_id": "x"}})
    await publish_raw(service, unknown.to_json(), unknown.id)
    await publish_raw(service, good.to_json(), good.id)
    await wait_until(lambda: service.effect_count(good.id))
    letters = await wait_until(
        lambda: _at_least(list_dead_letters(service.amqp_url, service.names), 2)
    )
    assert {letter.message_id for letter in letters} == {"poison-1", "wrong-data"}
    assert {letter.reason for letter in letters} == {"rejected"}
    assert await service.effect_count() == 1


async def test_handler_that_fails_twice_then_succeeds_applies_its_effect_once(
    service: Any, contract_created: Any, settled: Callable[[], int]
) -> None:
    attempts: list[str] = []

    async def flaky(event: Incoming[Any], connection: Any) -> None:
        attempts.append(event.envelope.id)
        await service.record_effect(event, connection)  # rolled back with the failure
        if len(attempts) <= 2:
            raise RuntimeError("transient fault")

    consumer = service.start_consumer(flaky)
    await wait_until(lambda: consumer.ready)
    event = contract_created()
    await publish_raw(service, event.to_json(), event.id)
    await wait_until(lambda: settled() == 3)  # nacked, nacked, acked: nothing can follow
    assert len(attempts) == 3
    assert await service.effect_count(event.id) == 1


async def test_handler_failing_past_the_delivery_limit_is_dead_lettered_then_replayed(
    service: Any, contract_created: Any
) -> None:
    healthy = asyncio.Event()
    attempts: list[str] = []

    async def broken_until_fixed(event: Incoming[Any], connection: Any) -> None:
        attempts.append(event.envelope.id)
        if not healthy.is_set():
            raise RuntimeError("bug")
        await service.record_effect(event, connection)

    event = contract_created()
    letter = await _the_one_dead_letter(service, broken_until_fixed, event)
    assert letter.message_id == event.id
    assert letter.reason == "delivery_limit"
    assert len(attempts) == 6  # the first delivery and five redeliveries
    assert await service.effect_count() == 0

    healthy.set()
    [replayed] = await replay(service.amqp_url, service.names, event.id)
    assert replayed.message_id == event.id
    await wait_until(lambda: service.effect_count(event.id))
    assert await list_dead_letters(service.amqp_url, service.names) == []


async def test_events_a_handler_causes_carry_its_correlation_and_causation(
    service: Any, contract_created: Any
) -> None:
    async def forward(event: Incoming[Any], connection: Any) -> None:
        service.outbox.add(connection, caused_by(event.envelope, event.data, subject="s"))

    consumer = service.start_consumer(forward)
    await wait_until(lambda: consumer.ready)
    incoming = contract_created(correlation_id="checkout-request-42")
    await publish_raw(service, incoming.to_json(), incoming.id)

    async def caused() -> list[CloudEvent]:
        async with service.engine.connect() as conn:
            rows = await conn.execute(select(service.outbox.table.c.body))
            return [CloudEvent.from_json(body) for (body,) in rows]

    [event] = await wait_until(caused)
    assert event.correlationid == "checkout-request-42"
    assert event.causationid == incoming.id
    assert event.id != incoming.id


async def test_consumer_reconnects_by_itself_after_the_broker_connection_is_cut(
    service: Any, contract_created: Any
) -> None:
    url = URL(service.amqp_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5672)
    await proxy.start()
    consumer = service.start_consumer(amqp_url=proxy.url_for(service.amqp_url))
    await wait_until(lambda: consumer.ready)
    await proxy.cut()
    await wait_until(lambda: not consumer.ready)
    during = contract_created()
    await publish_raw(service, during.to_json(), during.id)  # waits in the queue
    await asyncio.sleep(0.5)  # not a wait: proves nothing is applied while the broker is away
    assert await service.effect_count() == 0
    await proxy.start()
    await wait_until(lambda: consumer.ready, timeout=30)
    after = contract_created()
    await publish_raw(service, after.to_json(), after.id)
    await wait_until(lambda: _equals(service.effect_count(), 2))
    await proxy.stop()


async def test_a_database_outage_longer_than_the_delivery_limit_dead_letters_nothing(
    service: Any, contract_created: Any
) -> None:
    database_url = service.engine.url.render_as_string(hide_password=False)
    proxy = TcpProxy(service.engine.url.host or "127.0.0.1", service.engine.url.port or 5432)
    await proxy.start()
    through_proxy = create_async_engine(proxy.url_for(database_url))
    try:
        consumer = service.start_consumer(engine=through_proxy)
        await wait_until(lambda: consumer.ready)
        await proxy.cut()
        events = [contract_created() for _ in range(10)]
        for event in events:
            await publish_raw(service, event.to_json(), event.id)
        # Not a wait: the outage must outlast six failed deliveries of a message (pauses of
        # 0.05 s doubling) for the test to prove that none is dead-lettered.
        await asyncio.sleep(4)
        assert await list_dead_letters(service.amqp_url, service.names) == []
        assert await service.effect_count() == 0
        await proxy.start()
        await wait_until(lambda: _equals(service.effect_count(), 10), timeout=30)
        for event in events:
            assert await service.effect_count(event.id) == 1
        assert await list_dead_letters(service.amqp_url, service.names) == []
    finally:
        await proxy.stop()
        await through_proxy.dispose()


async def test_a_programming_error_of_the_driver_is_not_taken_for_an_outage(
    service: Any, contract_created: Any
) -> None:
    """asyncpg's InterfaceError also means "bug" (here a wrong argument count): such an event
    goes to the delivery limit and the dead-letter queue, it is not held forever."""

    async def wrong_argument_count(event: Incoming[Any], connection: Any) -> None:
        await connection.fetchval("SELECT $1::int", 1, 2)

    event = contract_created()
    letter = await _the_one_dead_letter(service, wrong_argument_count, event)
    assert (letter.message_id, letter.reason) == (event.id, "delivery_limit")


async def _the_one_dead_letter(service: Any, handler: Any, event: CloudEvent) -> Any:
    """Consume `event` with `handler` and wait for the dead letter it must become."""
    consumer = service.start_consumer(handler)
    await wait_until(lambda: consumer.ready)
    await publish_raw(service, event.to_json(), event.id)
    [letter] = await wait_until(
        lambda: _at_least(list_dead_letters(service.amqp_url, service.names), 1), timeout=30
    )
    return letter


async def _equals(value: Any, expected: int) -> bool:
    return bool(await value == expected)


async def _at_least(letters: Any, count: int) -> Any:
    found = await letters
    return found if len(found) >= count else None


async def test_an_event_the_handler_finds_unprocessable_is_dead_lettered_at_once(
    service: Any, contract_created: Any
) -> None:
    attempts: list[str] = []

    async def refuse(event: Incoming[Any], connection: Any) -> None:
        attempts.append(event.envelope.id)
        await service.record_effect(event, connection)  # rolled back with the refusal
        raise UnprocessableEvent("no such contract")

    consumer = service.start_consumer(refuse)
    await wait_until(lambda: consumer.ready)
    event = contract_created()
    await publish_raw(service, event.to_json(), event.id)
    [letter] = await wait_until(
        lambda: _at_least(list_dead_letters(service.amqp_url, service.names), 1)
    )
    assert (letter.message_id, letter.reason) == (event.id, "rejected")
    assert attempts == [event.id]
    assert await service.effect_count() == 0


async def test_the_dead_letter_cli_lists_shows_and_replays(
    service: Any, contract_created: Any
) -> None:
    consumer = service.start_consumer()
    await wait_until(lambda: consumer.ready)
    await publish_raw(service, b'{"not": "an event"}', "poison-cli")
    await wait_until(lambda: _at_least(list_dead_letters(service.amqp_url, service.names), 1))

    async def cli(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "skileez_events",
            "--amqp-url",
            service.amqp_url,
            "--namespace",
            service.names.namespace,
            "dead-letters",
            *args,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await process.communicate()
        return process.returncode or 0, out.decode()

    code, listed = await cli("list")
    assert code == 0
    assert "poison-cli" in listed
    assert "reason=rejected" in listed
    code, shown = await cli("show", "poison-cli")
    assert (code, '{"not": "an event"}' in shown) == (0, True)
    assert (await cli("show", "no-such-id"))[0] == 1
    code, replayed = await cli("replay", "--id", "poison-cli")
    assert code == 0
    assert "replayed" in replayed
    # Still malformed, so the consumer dead-letters it again: the replay was a real redelivery
    # (the DLQ was empty once the replay acked its copy).
    [again] = await wait_until(
        lambda: _at_least(list_dead_letters(service.amqp_url, service.names), 1)
    )
    assert again.message_id == "poison-cli"


# --- batching: several deliveries in one transaction ----------------------------------------


async def publish_burst(service: Any, events: list[CloudEvent]) -> None:
    """Publish distinct events all at once (confirmed) to the contracts exchange."""
    async with await aio_pika.connect(service.amqp_url) as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(service.names.exchange("contracts"))
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(
                        event.to_json(), message_id=event.id, content_type=CONTENT_TYPE
                    ),
                    routing_key=QUEUE_TYPE,
                )
                for event in events
            )
        )


async def burst_into_a_held_consumer(
    service: Any, events: list[CloudEvent], handler: Any, prefetch: int = 50
) -> None:
    """Publish `events` to a consumer whose handler waits at a gate until the consumer holds a
    full prefetch: its workers then find many deliveries buffered and take them in batches."""
    gate = asyncio.Event()

    async def held(event: Incoming[Any], connection: Any) -> None:
        await gate.wait()
        await handler(event, connection)

    consumer = service.start_consumer(held, prefetch=prefetch)
    await wait_until(lambda: consumer.ready)
    await publish_burst(service, events)
    queue = service.names.queue("payments", QUEUE_TYPE)
    await wait_until(lambda: _equals(queue_depth(service, queue), len(events) - prefetch))
    gate.set()


async def applied_per_event(service: Any) -> dict[str, int]:
    async with service.engine.connect() as conn:
        rows = await conn.execute(text("SELECT event_id, count(*) FROM effects GROUP BY event_id"))
        return {event_id: count for event_id, count in rows}


async def test_a_burst_of_events_is_applied_once_each_in_fewer_transactions_than_events(
    service: Any, contract_created: Any
) -> None:
    async with service.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE applied_in (event_id text, txid bigint)"))

    async def apply_and_note_the_transaction(event: Incoming[Any], connection: Any) -> None:
        await service.record_effect(event, connection)
        await connection.execute(
            "INSERT INTO applied_in VALUES ($1, txid_current())", event.envelope.id
        )

    consumer = service.start_consumer(apply_and_note_the_transaction)
    await wait_until(lambda: consumer.ready)
    events = [contract_created() for _ in range(300)]
    await publish_burst(service, events)
    await wait_until(lambda: _equals(service.effect_count(), 300), timeout=60)
    await consumer.drain()

    assert await applied_per_event(service) == {event.id: 1 for event in events}
    async with service.engine.connect() as conn:
        applied, transactions = (
            await conn.execute(text("SELECT count(*), count(DISTINCT txid) FROM applied_in"))
        ).one()
    print(f"{applied} events applied in {transactions} transactions")
    assert applied == 300
    assert transactions < applied


async def test_lock_ahead_gets_each_transactions_new_events_before_their_handlers(
    service: Any, contract_created: Any
) -> None:
    async with service.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE applied_in (event_id text, txid bigint)"))
        await conn.execute(text("CREATE TABLE ahead_in (event_id text, txid bigint)"))

    async def lock_ahead(connection: Any, events: list[Incoming[Any]]) -> None:
        ids = [event.envelope.id for event in events]
        await connection.execute(
            "INSERT INTO ahead_in SELECT unnest($1::text[]), txid_current()", ids
        )

    async def apply(event: Incoming[Any], connection: Any) -> None:
        applied_before = "SELECT count(*) FROM applied_in WHERE txid = txid_current()"
        ahead = "SELECT count(*) FROM ahead_in WHERE txid = txid_current()"
        assert await connection.fetchval(ahead) > await connection.fetchval(applied_before)
        await service.record_effect(event, connection)
        await connection.execute(
            "INSERT INTO applied_in VALUES ($1, txid_current())", event.envelope.id
        )

    consumer = service.start_consumer(apply, lock_ahead=lock_ahead)
    await wait_until(lambda: consumer.ready)
    events = [contract_created() for _ in range(150)]
    await publish_burst(service, events + events[::3])  # every third one twice
    await wait_until(lambda: _equals(service.effect_count(), 150), timeout=60)
    await consumer.drain()

    async with service.engine.connect() as conn:
        ahead = (await conn.execute(text("SELECT event_id, txid FROM ahead_in"))).all()
        applied = (await conn.execute(text("SELECT event_id, txid FROM applied_in"))).all()
    # Each committed transaction locked ahead exactly the events it applied, none a duplicate.
    assert sorted(ahead) == sorted(applied)
    assert sorted(event_id for event_id, _ in applied) == sorted(event.id for event in events)
    assert len({txid for _, txid in applied}) < len(applied)


class SecondInATransaction:
    """Picks the first event that a handler meets second in a transaction: one that certainly
    runs inside a batch of several events (a batch stops at the event that fails in it)."""

    def __init__(self) -> None:
        self.first_in: dict[int, str] = {}
        self.picked: str | None = None
        self.attempts: list[str] = []

    async def is_picked(self, event: Incoming[Any], connection: Any) -> bool:
        event_id = event.envelope.id
        self.attempts.append(event_id)
        txid = await connection.fetchval("SELECT txid_current()")
        if self.picked is None and self.first_in.setdefault(txid, event_id) != event_id:
            self.picked = event_id
        return event_id == self.picked

    def attempts_of_picked(self) -> int:
        return self.attempts.count(self.picked or "")


async def test_an_unprocessable_event_in_a_batch_is_dead_lettered_and_the_rest_applied_once(
    service: Any, contract_created: Any, settled: Callable[[], int]
) -> None:
    events = [contract_created() for _ in range(80)]
    poison = SecondInATransaction()

    async def refuse_the_poison(event: Incoming[Any], connection: Any) -> None:
        await service.record_effect(event, connection)  # rolled back with the refusal
        if await poison.is_picked(event, connection):
            raise UnprocessableEvent("no such contract")

    await burst_into_a_held_consumer(service, events, refuse_the_poison)
    [letter] = await wait_until(
        lambda: _at_least(list_dead_letters(service.amqp_url, service.names), 1)
    )
    assert (letter.message_id, letter.reason) == (poison.picked, "rejected")
    await wait_until(lambda: settled() == len(events))  # 79 acked, 1 rejected

    assert await applied_per_event(service) == {e.id: 1 for e in events if e.id != poison.picked}
    assert poison.attempts_of_picked() == 2  # in the batch, then in a transaction of its own
    assert await list_dead_letters(service.amqp_url, service.names) == [letter]


async def test_a_transient_failure_inside_a_batch_ends_with_every_event_applied_once(
    service: Any, contract_created: Any, settled: Callable[[], int]
) -> None:
    events = [contract_created() for _ in range(80)]
    flaky = SecondInATransaction()

    async def fail_once(event: Incoming[Any], connection: Any) -> None:
        await service.record_effect(event, connection)  # rolled back with the failure
        if await flaky.is_picked(event, connection) and flaky.attempts_of_picked() == 1:
            raise RuntimeError("deadlock detected, say")

    await burst_into_a_held_consumer(service, events, fail_once)
    await wait_until(lambda: settled() == len(events))  # every one acked, none nacked

    assert await applied_per_event(service) == {event.id: 1 for event in events}
    assert flaky.attempts_of_picked() == 2  # failed in the batch, then applied on its own
    assert await list_dead_letters(service.amqp_url, service.names) == []


async def test_deliveries_buffered_when_the_broker_connection_is_cut_are_applied_once_after(
    service: Any, contract_created: Any, settled: Callable[[], int]
) -> None:
    url = URL(service.amqp_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5672)
    await proxy.start()
    gate = asyncio.Event()

    async def held(event: Incoming[Any], connection: Any) -> None:
        await gate.wait()
        await service.record_effect(event, connection)

    consumer = service.start_consumer(held, amqp_url=proxy.url_for(service.amqp_url))
    await wait_until(lambda: consumer.ready)
    events = [contract_created() for _ in range(80)]
    await publish_burst(service, events)
    queue = service.names.queue("payments", QUEUE_TYPE)
    await wait_until(lambda: _equals(queue_depth(service, queue), 30))  # 50 held by the consumer
    await proxy.cut()
    await wait_until(lambda: not consumer.ready)
    await asyncio.wait_for(consumer.drain(timeout=60), timeout=5)  # its buffer was dropped
    gate.set()
    assert await service.effect_count() == 0

    await proxy.start()
    await wait_until(lambda: settled() == len(events), timeout=30)  # each acked once
    assert await applied_per_event(service) == {event.id: 1 for event in events}
    await proxy.cut()
