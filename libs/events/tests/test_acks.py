"""`ChannelAcks` against a real broker: a multiple ack settles exactly what it should.

A delivery aio-pika acked itself reads `processed`; one covered by another's multiple ack does
not. Whether the broker took each delivery as settled is read after the channel closes: every
delivery it still held unacked is back in the queue."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from skileez_events import acks as acks_module
from skileez_events.acks import ChannelAcks
from skileez_events.testing import wait_until


@pytest.fixture
async def broker(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        yield connection


async def _deliveries(
    connection: AbstractRobustConnection, queue_name: str, count: int
) -> tuple[AbstractChannel, list[AbstractIncomingMessage]]:
    """Publish `count` messages ("1", "2"...) to a new queue (rejects go to "<name>.dead"), and
    receive them all, unacked, on a new channel (tags 1 to `count`)."""
    setup = await connection.channel()
    await setup.declare_queue(f"{queue_name}.dead", durable=True)
    dead_letters = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": f"{queue_name}.dead"}
    await setup.declare_queue(queue_name, durable=True, arguments=dead_letters)
    for number in range(1, count + 1):
        await setup.default_exchange.publish(
            aio_pika.Message(str(number).encode()), routing_key=queue_name
        )
    await setup.close()
    channel = await connection.channel()
    received: list[AbstractIncomingMessage] = []
    queue = await channel.declare_queue(queue_name, passive=True)

    async def collect(message: AbstractIncomingMessage) -> None:
        received.append(message)

    await queue.consume(collect)
    await wait_until(lambda: len(received) == count)
    assert [message.delivery_tag for message in received] == list(range(1, count + 1))
    return channel, received


async def _left_and_dead(
    connection: AbstractRobustConnection, channel: AbstractChannel, queue_name: str
) -> tuple[list[bytes], set[bytes]]:
    """Close the channel (what it held unacked goes back to the queue), then drain and delete
    the queue and its dead letters: (what was left, sorted; what was dead-lettered)."""
    await channel.close()
    reader = await connection.channel()
    drained: list[list[bytes]] = []
    for name in (queue_name, f"{queue_name}.dead"):
        queue = await reader.declare_queue(name, passive=True)
        bodies: list[bytes] = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            bodies.append(message.body)
        await queue.delete()
        drained.append(bodies)
    await reader.close()
    left, dead = drained
    return sorted(left), set(dead)


async def test_a_batch_whose_lower_tags_are_settled_is_acked_in_one_frame(
    broker: AbstractRobustConnection,
) -> None:
    name = f"test-acks-{uuid.uuid4().hex[:12]}"
    channel, received = await _deliveries(broker, name, 5)
    await ChannelAcks().ack(received)
    assert [message.processed for message in received] == [False] * 4 + [True]
    assert await _left_and_dead(broker, channel, name) == ([], set())


async def test_a_multiple_ack_never_reaches_an_open_or_rejected_delivery(
    broker: AbstractRobustConnection,
) -> None:
    name = f"test-acks-{uuid.uuid4().hex[:12]}"
    channel, m = await _deliveries(broker, name, 8)
    acks = ChannelAcks()

    await acks.ack([m[1], m[2]])  # 1 is open: acked one by one
    assert [m[1].processed, m[2].processed] == [True, True]
    await m[3].reject(requeue=False)
    acks.settled(m[3])
    await acks.ack([m[0]])  # 1 to 4 now settled
    assert m[0].processed
    await acks.ack([m[5], m[4], m[6]])  # one frame at 7; 8 stays open
    assert [m[4].processed, m[5].processed, m[6].processed] == [False, False, True]

    await channel.declare_queue(name, passive=True)  # the channel survived every frame
    assert await _left_and_dead(broker, channel, name) == ([b"8"], {b"4"})


async def test_concurrent_batches_in_any_order_settle_every_delivery_once(
    broker: AbstractRobustConnection,
) -> None:
    name = f"test-acks-{uuid.uuid4().hex[:12]}"
    channel, received = await _deliveries(broker, name, 300)
    rng = random.Random(7)
    shuffled = received[:]
    rng.shuffle(shuffled)
    rejected = shuffled[:30]
    batches = [shuffled[start : start + 9] for start in range(30, 300, 9)]
    acks = ChannelAcks()

    async def reject(message: AbstractIncomingMessage) -> None:
        await asyncio.sleep(rng.random() / 100)
        await message.reject(requeue=False)
        acks.settled(message)

    async def ack(batch: list[AbstractIncomingMessage]) -> None:
        await asyncio.sleep(rng.random() / 100)
        await acks.ack(batch)

    await asyncio.gather(*(reject(m) for m in rejected), *(ack(batch) for batch in batches))

    await channel.declare_queue(name, passive=True)  # no "unknown delivery tag" closed it
    assert sum(message.processed for message in received) < 300  # some frames were shared
    assert await _left_and_dead(broker, channel, name) == ([], {m.body for m in rejected})


async def test_past_the_tracked_limit_an_unsettled_delivery_turns_every_ack_single(
    broker: AbstractRobustConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(acks_module, "TRACKED", 3)
    name = f"test-acks-{uuid.uuid4().hex[:12]}"
    channel, m = await _deliveries(broker, name, 8)
    acks = ChannelAcks()
    await acks.ack(m[1:5])  # 1 open: four settled above it, past the limit
    await acks.ack([m[0]])
    await acks.ack(m[5:7])  # would have been one frame at 7; 8 stays open
    assert [message.processed for message in m] == [True] * 7 + [False]
    assert await _left_and_dead(broker, channel, name) == ([b"8"], set())
