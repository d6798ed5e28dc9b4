"""The topology's declarations: a service looks shared names up and declares only its own.

Redeclaring an existing exchange needs the `configure` permission, which also allows deleting
it, so the services' users do not have it on the shared names (deploy/rabbitmq); here, as the
test broker's user, what exists is looked up as it is and what is missing is created.
"""

from __future__ import annotations

import logging
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import ExchangeType

from skileez_events import ContractCreated, Names
from skileez_events.testing import wait_until
from skileez_events.topology import declare_exchanges, declare_subscription


async def test_a_shared_exchange_that_exists_is_looked_up_never_redeclared(
    amqp_url: str, events_names: Names
) -> None:
    """Declared by its owner with other arguments (no alternate exchange): a relay and a
    consumer binding to it look it up, where declaring it again would be refused
    (PRECONDITION_FAILED)."""
    async with await aio_pika.connect(amqp_url) as connection:
        channel = await connection.channel()
        await channel.declare_exchange(
            events_names.exchange("contracts"), ExchangeType.TOPIC, durable=True
        )
        exchanges = await declare_exchanges(channel, events_names)
        queue = await declare_subscription(channel, events_names, "payments", ContractCreated)
        assert exchanges["contracts"].name == events_names.exchange("contracts")
        assert queue.name == events_names.queue("payments", "skileez.contracts.ContractCreated.v1")


async def test_what_is_missing_is_created_and_the_channel_stays_usable(
    amqp_url: str, events_names: Names
) -> None:
    """A lookup that finds nothing closes the channel (AMQP); it is reopened, with its
    publisher confirms: an event no one subscribes to is confirmed, kept in `unrouted.kept`."""
    async with await aio_pika.connect(amqp_url) as connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchanges = await declare_exchanges(channel, events_names)
        await exchanges["payments"].publish(
            aio_pika.Message(b"{}"), routing_key="skileez.payments.PaymentHeld.v1", mandatory=True
        )
        kept = await channel.declare_queue(events_names.unrouted_queue, passive=True)
        assert kept.declaration_result.message_count == 1


async def test_a_consumer_on_a_fresh_namespace_comes_up_at_its_first_attempt(
    service: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Its lookups find nothing and reopen its channel: that is not a lost connection."""
    with caplog.at_level(logging.WARNING, logger="skileez_events.consumer"):
        consumer = service.start_consumer()
        await wait_until(lambda: consumer.ready)
    assert [record.getMessage() for record in caplog.records] == []
