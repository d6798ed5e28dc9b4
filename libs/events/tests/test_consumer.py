"""The idempotent inbox consumer against real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import aio_pika
from sqlalchemy import func, select
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
    service: Any, contract_created: Any
) -> None:
    consumer = service.start_consumer(prefetch=100)
    await wait_until(lambda: consumer.ready)
    event = contract_created()
    await publish_raw(service, event.to_json(), event.id, copies=200)
    queue = service.names.queue("payments", QUEUE_TYPE)
    await wait_until(lambda: service.effect_count(event.id))
    await wait_until(lambda: _is_zero(queue_depth(service, queue)))
    await asyncio.sleep(0.3)
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
    service: Any, contract_created: Any
) -> None:
    attempts: list[str] = []

    async def flaky(event: Incoming[Any], session: Any) -> None:
        attempts.append(event.envelope.id)
        await service.record_effect(event, session)  # rolled back with the failure
        if len(attempts) <= 2:
            raise RuntimeError("transient fault")

    consumer = service.start_consumer(flaky)
    await wait_until(lambda: consumer.ready)
    event = contract_created()
    await publish_raw(service, event.to_json(), event.id)
    await wait_until(lambda: service.effect_count(event.id))
    await asyncio.sleep(0.3)
    assert len(attempts) == 3
    assert await service.effect_count(event.id) == 1


async def test_handler_failing_past_the_delivery_limit_is_dead_lettered_then_replayed(
    service: Any, contract_created: Any
) -> None:
    healthy = asyncio.Event()
    attempts: list[str] = []

    async def broken_until_fixed(event: Incoming[Any], session: Any) -> None:
        attempts.append(event.envelope.id)
        if not healthy.is_set():
            raise RuntimeError("bug")
        await service.record_effect(event, session)

    consumer = service.start_consumer(broken_until_fixed)
    await wait_until(lambda: consumer.ready)
    event = contract_created()
    await publish_raw(service, event.to_json(), event.id)
    [letter] = await wait_until(
        lambda: _at_least(list_dead_letters(service.amqp_url, service.names), 1), timeout=30
    )
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
    async def forward(event: Incoming[Any], session: Any) -> None:
        await service.outbox.add(session, caused_by(event.envelope, event.data, subject="s"))

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
    await asyncio.sleep(0.5)
    assert await service.effect_count() == 0
    await proxy.start()
    await wait_until(lambda: consumer.ready, timeout=30)
    after = contract_created()
    await publish_raw(service, after.to_json(), after.id)
    await wait_until(lambda: _equals(service.effect_count(), 2))
    await proxy.cut()


async def _equals(value: Any, expected: int) -> bool:
    return bool(await value == expected)


async def _at_least(letters: Any, count: int) -> Any:
    found = await letters
    return found if len(found) >= count else None


async def _is_zero(value: Any) -> bool:
    return bool(await value == 0)


async def test_an_event_the_handler_finds_unprocessable_is_dead_lettered_at_once(
    service: Any, contract_created: Any
) -> None:
    attempts: list[str] = []

    async def refuse(event: Incoming[Any], session: Any) -> None:
        attempts.append(event.envelope.id)
        await service.record_effect(event, session)  # rolled back with the refusal
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
