"""The broker topology, all of it in one place.

- one durable topic exchange per producer: `{ns}{producer}.events`, routing key = event type;
- one durable quorum queue per consumer and subscribed event type: `{ns}{consumer}.{type}`,
  with a delivery limit, dead-lettering through the consumer's own `{ns}{consumer}.dead-letters`
  exchange into its own `....dlq` queue;
- every producer exchange has the alternate exchange `{ns}unrouted`, whose queue keeps the
  events that no one subscribes to (yet), so no publish is refused; it keeps the latest 100,000
  for 30 days and drops older ones. The broker's policies bound it and the dead-letter queues,
  and make consumer queues dead-letter at least once: a letter a full dead-letter queue refuses
  waits in its queue (deploy/README.md, "Broker queue limits and alerts").

Ownership: a consumer declares its own names (dead-letter exchange, queues, bindings). The
shared names (the producer exchanges, `unrouted` and its queue) are the broker's: deployed by
deploy/rabbitmq/definitions.json, only looked up (passively: no permission needed) by the
services, and created here only where missing, which only a user allowed to configure them may
do (the administrator user of a local run or the tests). Redeclaring an existing name actively
would need the `configure` permission, which also allows deleting it: no service has it on names
it does not own (deploy/rabbitmq, "Broker permissions" in deploy/README.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, ExchangeType

from skileez_events.schemas import (
    EVENT_MODELS,
    ContractActivated,
    ContractCancelled,
    ContractCreated,
    ContractReinstated,
    ContractSuspended,
    EventData,
    PaymentDisputeClosed,
    PaymentDisputed,
    PaymentFailed,
    PaymentProcessing,
    PaymentRefunded,
    PaymentSucceeded,
    SessionBooked,
    SessionCancelled,
    event_type_of,
)

PRODUCERS = ("contracts", "payments", "scheduling")

SUBSCRIPTIONS: dict[str, tuple[type[EventData], ...]] = {
    "contracts": (
        PaymentSucceeded,
        PaymentProcessing,
        PaymentFailed,
        PaymentRefunded,
        PaymentDisputed,
        PaymentDisputeClosed,
        SessionBooked,
        SessionCancelled,
    ),
    "payments": (ContractCreated, ContractCancelled),
    "scheduling": (
        ContractCreated,
        ContractActivated,
        ContractSuspended,
        ContractReinstated,
        ContractCancelled,
    ),
    # The operators' read model hears everything any producer publishes.
    "backoffice": tuple(EVENT_MODELS.values()),
}
"""Which consumer (service) subscribes to which event types."""

DELIVERY_LIMIT = 5
"""Deliveries after the first before a failing message is dead-lettered (quorum queues)."""


@dataclass(frozen=True)
class Names:
    """Every exchange and queue name, under one `EVENTS_NAMESPACE` prefix."""

    namespace: str = ""

    def exchange(self, producer: str) -> str:
        return f"{self.namespace}{producer}.events"

    def dead_letter_exchange(self, consumer: str) -> str:
        return f"{self.namespace}{consumer}.dead-letters"

    @property
    def unrouted(self) -> str:
        return f"{self.namespace}unrouted"

    @property
    def unrouted_queue(self) -> str:
        # Not the exchange's name: binding needs write access to the queue, and a service
        # must not thereby gain the right to publish to the exchange.
        return f"{self.namespace}unrouted.kept"

    def queue(self, consumer: str, event_type: str) -> str:
        return f"{self.namespace}{consumer}.{event_type}"

    def dead_letter_queue(self, queue: str) -> str:
        return f"{queue}.dlq"

    def all_queues(self) -> list[str]:
        queues = [self.unrouted_queue]
        for consumer, models in SUBSCRIPTIONS.items():
            for model in models:
                queue = self.queue(consumer, event_type_of(model))
                queues += [queue, self.dead_letter_queue(queue)]
        return queues


QUORUM: dict[str, Any] = {"x-queue-type": "quorum"}

T = TypeVar("T")


async def _look_up(channel: AbstractChannel, lookup: Callable[[], Awaitable[T]]) -> T | None:
    """What a passive declaration finds, or None. Not found closes the channel (AMQP says so):
    it is reopened, so the caller's channel is usable either way."""
    try:
        return await lookup()
    except aio_pika.exceptions.ChannelNotFoundEntity:
        await channel.reopen()
        return None


async def declare_unrouted(channel: AbstractChannel, names: Names) -> None:
    """Look up the shared alternate exchange `unrouted` and its queue; create them where missing."""
    exchange = await _look_up(
        channel, lambda: channel.declare_exchange(names.unrouted, passive=True)
    )
    if exchange is None:
        await channel.declare_exchange(names.unrouted, ExchangeType.FANOUT, durable=True)
    kept = await _look_up(
        channel, lambda: channel.declare_queue(names.unrouted_queue, passive=True)
    )
    if kept is None:
        kept = await channel.declare_queue(names.unrouted_queue, durable=True, arguments=QUORUM)
        await kept.bind(names.unrouted)


async def declare_exchange(
    channel: AbstractChannel, names: Names, producer: str
) -> AbstractExchange:
    """Look up a producer's exchange; create it (with `unrouted` behind it) where missing."""
    name = names.exchange(producer)
    found = await _look_up(channel, lambda: channel.declare_exchange(name, passive=True))
    if found is not None:
        return found
    await declare_unrouted(channel, names)
    return await channel.declare_exchange(
        name, ExchangeType.TOPIC, durable=True, arguments={"alternate-exchange": names.unrouted}
    )


async def declare_exchanges(channel: AbstractChannel, names: Names) -> dict[str, AbstractExchange]:
    """Look up (or create where missing) every producer exchange; return them by producer."""
    return {producer: await declare_exchange(channel, names, producer) for producer in PRODUCERS}


async def declare_subscription(
    channel: AbstractChannel, names: Names, consumer: str, model: type[EventData]
) -> aio_pika.abc.AbstractQueue:
    """Declare a consumer's queue for one event type, its dead-letter queue and binding, after
    looking up the producer exchange it binds to."""
    event_type = event_type_of(model)
    queue_name = names.queue(consumer, event_type)
    dlq_name = names.dead_letter_queue(queue_name)
    producer_exchange = await declare_exchange(channel, names, model.producer)
    dead_letters = await channel.declare_exchange(
        names.dead_letter_exchange(consumer), ExchangeType.DIRECT, durable=True
    )
    dlq = await channel.declare_queue(dlq_name, durable=True, arguments=QUORUM)
    await dlq.bind(dead_letters, routing_key=queue_name)
    queue = await channel.declare_queue(
        queue_name,
        durable=True,
        arguments={
            **QUORUM,
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": dead_letters.name,
            "x-dead-letter-routing-key": queue_name,
        },
    )
    await queue.bind(producer_exchange, routing_key=event_type)
    return queue


async def delete_topology(channel: AbstractChannel, names: Names) -> None:
    """Remove every queue and exchange of a namespace (test clean-up)."""
    for queue in names.all_queues():
        await channel.queue_delete(queue)
    for producer in PRODUCERS:
        await channel.exchange_delete(names.exchange(producer))
    for consumer in SUBSCRIPTIONS:
        await channel.exchange_delete(names.dead_letter_exchange(consumer))
    await channel.exchange_delete(names.unrouted)
