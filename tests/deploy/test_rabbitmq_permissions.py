"""Per-service RabbitMQ users may publish only to their own exchange (DESIGN.md, "Access").

First the regexes of deploy/rabbitmq/definitions.json against the real names of
`skileez_events.topology`; then the same definitions, imported into a throw-away vhost of
the machine's RabbitMQ, against the broker itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aio_pika
import aiormq
import pytest

from skileez_events.schemas import event_type_of
from skileez_events.topology import (
    PRODUCERS,
    SUBSCRIPTIONS,
    Names,
    declare_exchanges,
    declare_subscription,
)

DEFINITIONS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "deploy/rabbitmq/definitions.json").read_text()
)
SERVICES = tuple(SUBSCRIPTIONS)
NAMES = Names("")  # compose and the Kubernetes base use a vhost of their own, no prefix


def permission(user: str, kind: str) -> re.Pattern[str]:
    [entry] = [p for p in DEFINITIONS["permissions"] if p["user"] == user]
    return re.compile(entry[kind])


def allowed(user: str, kind: str, name: str) -> bool:
    return permission(user, kind).search(name) is not None  # RabbitMQ uses re:run, a search


def own_queues(service: str) -> list[str]:
    queues = []
    for model in SUBSCRIPTIONS[service]:
        queue = NAMES.queue(service, event_type_of(model))
        queues += [queue, NAMES.dead_letter_queue(queue)]
    return queues


def test_every_service_and_ops_has_a_user_with_a_password_from_the_environment() -> None:
    users = {user["name"]: user for user in DEFINITIONS["users"]}
    assert set(users) == {*SERVICES, "ops"}
    for name, user in users.items():
        assert user["password"] == f"${{RABBITMQ_{name.upper()}_PASSWORD}}", name
    assert users["ops"]["tags"] == ["administrator"]
    assert all(users[service]["tags"] == [] for service in SERVICES)
    assert {p["vhost"] for p in DEFINITIONS["permissions"]} == {"skileez"}


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_may_publish_only_to_its_own_exchange(service: str) -> None:
    for producer in PRODUCERS:
        exchange = NAMES.exchange(producer)
        assert allowed(service, "write", exchange) == (producer == service), exchange
    for name in ("amq.default", "", "amq.topic", "amq.direct"):
        assert not allowed(service, "write", name), name


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_cannot_write_into_another_services_queues(service: str) -> None:
    for other in SERVICES:
        for queue in own_queues(other):
            assert allowed(service, "write", queue) == (other == service), queue


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_may_declare_and_bind_what_topology_declares(service: str) -> None:
    declared = [
        *(NAMES.exchange(producer) for producer in PRODUCERS),
        NAMES.dead_letter_exchange(service),
        NAMES.unrouted,
        NAMES.unrouted_queue,
        *own_queues(service),
    ]
    for name in declared:
        assert allowed(service, "configure", name), name
    # Binding a queue needs write on the queue and read on the exchange; declaring an
    # exchange with an alternate exchange, or a queue with a dead-letter exchange, needs
    # write on that exchange (RabbitMQ checks it at declare time).
    for name in (*own_queues(service), NAMES.unrouted_queue, NAMES.unrouted):
        assert allowed(service, "write", name), name
    assert allowed(service, "write", NAMES.dead_letter_exchange(service))
    for model in SUBSCRIPTIONS[service]:
        assert allowed(service, "read", NAMES.exchange(model.producer))
    for name in (NAMES.dead_letter_exchange(service), NAMES.unrouted, *own_queues(service)):
        assert allowed(service, "read", name), name
    for other in SERVICES:
        if other != service:
            dead_letters = NAMES.dead_letter_exchange(other)
            assert not allowed(service, "write", dead_letters), f"{service} may feed {other}'s DLQ"
            for queue in own_queues(other):
                assert not allowed(service, "read", queue), f"{service} may consume {queue}"
                assert not allowed(service, "configure", queue), f"{service} may delete {queue}"


async def declare_as(url: str, service: str) -> None:
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel()
        await declare_exchanges(channel, NAMES)
        for model in SUBSCRIPTIONS[service]:
            await declare_subscription(channel, NAMES, service, model)


async def publish_as(url: str, exchange_name: str) -> None:
    """Publish one persistent message with confirms and `mandatory`, as the relay does."""
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.get_exchange(exchange_name, ensure=False)
        await exchange.publish(
            aio_pika.Message(b"{}", delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key="skileez.test.PermissionProbe.v1",
            mandatory=True,
        )


async def test_on_the_broker_each_user_publishes_to_its_own_exchange_only(broker_users) -> None:  # type: ignore[no-untyped-def]
    urls = broker_users.urls
    # Each service declares its whole topology under its own user, as it does at start-up.
    for service in SERVICES:
        await declare_as(urls[service], service)

    kept_before = await kept_messages(urls["ops"])
    await publish_as(urls["payments"], NAMES.exchange("payments"))  # confirmed (ack)
    await publish_as(urls["contracts"], NAMES.exchange("contracts"))
    refused = [
        ("payments", NAMES.exchange("contracts")),
        ("contracts", NAMES.exchange("payments")),
        ("scheduling", NAMES.exchange("contracts")),
        ("scheduling", NAMES.exchange("payments")),
    ]
    for user, exchange in refused:
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await publish_as(urls[user], exchange)

    # What was accepted really went somewhere: the alternate exchange kept both messages.
    assert await kept_messages(urls["ops"]) == kept_before + 2


async def kept_messages(url: str) -> int:
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel()
        kept = await channel.declare_queue(NAMES.unrouted_queue, passive=True)
        return int(kept.declaration_result.message_count or 0)


async def test_on_the_broker_a_service_cannot_consume_another_services_queue(
    broker_users,  # type: ignore[no-untyped-def]
) -> None:
    urls = broker_users.urls
    await declare_as(urls["contracts"], "contracts")
    [contracts_queue, *_] = own_queues("contracts")

    async def ignore(_message: aio_pika.abc.AbstractIncomingMessage) -> None:
        return None

    async with await aio_pika.connect(urls["payments"]) as connection:
        channel = await connection.channel()
        queue = await channel.get_queue(contracts_queue, ensure=False)
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await queue.consume(ignore)
