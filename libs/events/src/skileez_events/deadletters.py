"""Inspecting and replaying dead-lettered messages.

A dead-letter queue `X.dlq` holds what consumer queue `X` gave up on. Replaying publishes the
message again (same body, same properties) straight to `X` through the default exchange, so
only the consumer that failed sees it again, and acks it in the DLQ after the broker confirms.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from skileez_events import broker
from skileez_events.topology import Names


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    message_id: str | None
    event_type: str | None
    reason: str
    deaths: int
    body: bytes

    def summary(self) -> str:
        return f"{self.message_id}  {self.event_type}  reason={self.reason} deaths={self.deaths}"


def _dead_letter(queue: str, message: AbstractIncomingMessage) -> DeadLetter:
    deaths: list[dict[str, Any]] = message.headers.get("x-death") or []  # type: ignore[assignment]
    first = deaths[0] if deaths else {}
    return DeadLetter(
        queue=queue,
        message_id=message.message_id,
        event_type=message.type,
        reason=str(first.get("reason", "?")),
        deaths=sum(int(death.get("count", 1)) for death in deaths),
        body=message.body,
    )


def dead_letter_queues(names: Names, consumer: str | None = None) -> list[str]:
    """Every dead-letter queue of the namespace, or only `consumer`'s."""
    own = names.queue(consumer, "") if consumer is not None else names.namespace
    return [q for q in names.all_queues() if q.endswith(".dlq") and q.startswith(own)]


@asynccontextmanager
async def _taken(
    connection: AbstractConnection, queue_name: str
) -> AsyncIterator[tuple[AbstractChannel, list[AbstractIncomingMessage]]]:
    """Every message of the queue, held unacked; what is not acked goes back when this exits."""
    async with connection.channel(publisher_confirms=True) as channel:
        messages = []
        try:
            queue = await channel.declare_queue(queue_name, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            pass  # that consumer has never run in this namespace
        else:
            while (message := await queue.get(no_ack=False, fail=False)) is not None:
                messages.append(message)
        yield channel, messages


async def list_dead_letters(
    amqp_url: str, names: Names, consumer: str | None = None
) -> list[DeadLetter]:
    found: list[DeadLetter] = []
    async with await broker.connect(amqp_url) as connection:
        for queue in dead_letter_queues(names, consumer):
            async with _taken(connection, queue) as (_channel, messages):
                found += [_dead_letter(queue, message) for message in messages]
    return found


async def replay(
    amqp_url: str, names: Names, message_id: str | None = None, consumer: str | None = None
) -> list[DeadLetter]:
    """Send dead letters (all, or the one with `message_id`; of every consumer, or only
    `consumer`'s) back to their consumer's queue."""
    replayed: list[DeadLetter] = []
    async with await broker.connect(amqp_url) as connection:
        for dlq in dead_letter_queues(names, consumer):
            async with _taken(connection, dlq) as (channel, messages):
                for message in messages:
                    if message_id in (None, message.message_id):
                        await _send_back(channel, message, dlq.removesuffix(".dlq"))
                        replayed.append(_dead_letter(dlq, message))
    return replayed


async def _send_back(
    channel: AbstractChannel, message: AbstractIncomingMessage, queue: str
) -> None:
    headers = {k: v for k, v in message.headers.items() if not k.startswith("x-")}
    await channel.default_exchange.publish(
        aio_pika.Message(
            message.body,
            headers=headers,
            content_type=message.content_type,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            type=message.type,
            timestamp=message.timestamp,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        ),
        routing_key=queue,
        mandatory=True,
    )
    await message.ack()
