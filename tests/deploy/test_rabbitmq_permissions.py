"""Per-service RabbitMQ users own their names and nothing else (DESIGN.md, "Access").

A service may configure (and so delete) only its own names, publish only to its own exchange,
and read only what it consumes; the shared names (the producer exchanges, `unrouted`, its
queue) are the broker's, deployed by the definitions and only looked up by the services.
First the regexes of deploy/rabbitmq/definitions.json against the real names of
`skileez_events.topology` as the deployment names them; then the same definitions, imported
into a throw-away vhost of the machine's RabbitMQ, against the broker itself.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import aio_pika
import aiormq
import pytest
from aio_pika.abc import AbstractChannel, ExchangeType

from skileez_events.topology import PRODUCERS, SUBSCRIPTIONS

from .broker import (
    COMPOSE_NAMESPACE,
    DEFINITIONS,
    KUBERNETES_NAMESPACE,
    NAMES,
    SERVICES,
    declare_as,
    own_queues,
)


def permission(user: str, kind: str) -> re.Pattern[str]:
    [entry] = [p for p in DEFINITIONS["permissions"] if p["user"] == user]
    return re.compile(entry[kind])


def allowed(user: str, kind: str, name: str) -> bool:
    return permission(user, kind).search(name) is not None  # RabbitMQ uses re:run, a search


def own_names(service: str) -> list[str]:
    """What a service declares actively: its dead-letter exchange and queues (a producer's
    exchange is the broker's: it publishes to it, but may not delete it)."""
    return [NAMES.dead_letter_exchange(service), *own_queues(service)]


def shared_names() -> list[str]:
    """The broker's names: every producer exchange, `unrouted` and its queue."""
    return [*(NAMES.exchange(p) for p in PRODUCERS), NAMES.unrouted, NAMES.unrouted_queue]


def names_not_owned_by(service: str) -> list[str]:
    others = [name for other in SERVICES if other != service for name in own_names(other)]
    return sorted({*shared_names(), *others} - set(own_names(service)))


def test_every_service_and_ops_has_a_user_with_a_password_from_the_environment() -> None:
    users = {user["name"]: user for user in DEFINITIONS["users"]}
    assert set(users) == {*SERVICES, "ops"}
    for name, user in users.items():
        assert user["password"] == f"${{RABBITMQ_{name.upper()}_PASSWORD}}", name
    assert users["ops"]["tags"] == ["administrator"]
    assert all(users[service]["tags"] == [] for service in SERVICES)
    assert {p["vhost"] for p in DEFINITIONS["permissions"]} == {"skileez"}


def test_the_regexes_are_written_for_the_namespace_the_deployments_use() -> None:
    """Compose and Kubernetes name things alike, and the names tested here are theirs."""
    assert COMPOSE_NAMESPACE == KUBERNETES_NAMESPACE == NAMES.namespace


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_may_configure_its_own_names_only(service: str) -> None:
    """Configure is also delete: never on the shared names or another service's."""
    for name in own_names(service):
        assert allowed(service, "configure", name), name
    for name in names_not_owned_by(service):
        assert not allowed(service, "configure", name), f"{service} may delete {name}"


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_may_publish_only_to_its_own_exchange(service: str) -> None:
    for producer in PRODUCERS:
        exchange = NAMES.exchange(producer)
        assert allowed(service, "write", exchange) == (producer == service), exchange
    for name in ("amq.default", "", "amq.topic", "amq.direct", NAMES.unrouted_queue):
        assert not allowed(service, "write", name), name


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_may_write_what_its_declarations_need_and_no_one_elses(service: str) -> None:
    """Binding needs write on the queue; a queue with a dead-letter exchange, write on that
    exchange; an exchange with an alternate exchange, write on `unrouted` (a producer's only)."""
    for name in own_names(service):
        assert allowed(service, "write", name), name
    assert allowed(service, "write", NAMES.unrouted) == (service in PRODUCERS)
    for other in SERVICES:
        if other != service:
            for name in own_names(other):
                assert not allowed(service, "write", name), f"{service} may feed {name}"


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_may_read_only_what_it_consumes(service: str) -> None:
    """Read on the exchanges it binds to (binding needs it) and on its own names, nothing else:
    scheduling subscribes to no payments event, so it cannot read `payments.events`."""
    consumed = {NAMES.exchange(model.producer) for model in SUBSCRIPTIONS[service]}
    for name in (*consumed, *own_names(service)):
        assert allowed(service, "read", name), name
    readable = {*consumed, NAMES.exchange(service)}  # its own exchange: harmless to read
    for name in names_not_owned_by(service):
        if name not in readable:
            assert not allowed(service, "read", name), f"{service} may read {name}"
    assert not allowed("scheduling", "read", NAMES.exchange("payments"))


def test_the_definitions_deploy_the_shared_names_as_the_services_would_declare_them() -> None:
    """The broker owns them, so they exist before any service starts (no service waits for
    another to create an exchange it binds to): the same types and arguments as topology's."""
    exchanges = {e["name"]: e for e in DEFINITIONS["exchanges"]}
    assert set(exchanges) == {NAMES.unrouted, *(NAMES.exchange(p) for p in PRODUCERS)}
    assert exchanges[NAMES.unrouted]["type"] == "fanout"
    for producer in PRODUCERS:
        exchange = exchanges[NAMES.exchange(producer)]
        assert exchange["type"] == "topic"
        assert exchange["arguments"] == {"alternate-exchange": NAMES.unrouted}
    assert all(e["durable"] and not e["auto_delete"] for e in exchanges.values())
    [kept] = DEFINITIONS["queues"]
    assert kept["name"] == NAMES.unrouted_queue
    assert kept["durable"]
    assert kept["arguments"] == {"x-queue-type": "quorum"}
    [binding] = DEFINITIONS["bindings"]
    assert (binding["source"], binding["destination"], binding["destination_type"]) == (
        NAMES.unrouted,
        NAMES.unrouted_queue,
        "queue",
    )


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


async def kept_messages(url: str) -> int:
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel()
        kept = await channel.declare_queue(NAMES.unrouted_queue, passive=True)
        return int(kept.declaration_result.message_count or 0)


async def attempt_as(url: str, action: Callable[[AbstractChannel], Awaitable[object]]) -> None:
    """Run one action on a fresh channel of that user (a refusal closes the channel)."""
    async with await aio_pika.connect(url) as connection:
        await action(await connection.channel())


async def test_on_the_broker_each_user_publishes_to_its_own_exchange_only(broker_users) -> None:  # type: ignore[no-untyped-def]
    urls = broker_users.urls
    # Each service declares its whole topology under its own user, as it does at start-up.
    for service in SERVICES:
        await declare_as(urls[service], service)

    kept_before = await kept_messages(urls["ops"])
    for producer in PRODUCERS:
        await publish_as(urls[producer], NAMES.exchange(producer))  # confirmed (ack)
    refused = [
        (user, NAMES.exchange(producer))
        for user in SERVICES
        for producer in PRODUCERS
        if user != producer
    ]
    for user, exchange in refused:
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await publish_as(urls[user], exchange)

    # What was accepted really went somewhere: the alternate exchange kept every message.
    assert await kept_messages(urls["ops"]) == kept_before + len(PRODUCERS)


@pytest.mark.parametrize("service", SERVICES)
async def test_on_the_broker_a_service_cannot_delete_or_redeclare_what_it_does_not_own(
    broker_users,  # type: ignore[no-untyped-def]
    service: str,
) -> None:
    """Scheduling cannot delete `payments.events` or `unrouted.kept`, contracts cannot delete
    its own `contracts.events`, nor any service another's exchange or queue, nor redeclare a
    shared exchange with other arguments."""
    urls = broker_users.urls
    for owner in SERVICES:
        await declare_as(urls[owner], owner)
    exchanges = {*shared_names(), *(NAMES.dead_letter_exchange(s) for s in SERVICES)} - {
        NAMES.unrouted_queue
    }
    for name in names_not_owned_by(service):
        delete = (
            (lambda channel, name=name: channel.exchange_delete(name))
            if name in exchanges
            else (lambda channel, name=name: channel.queue_delete(name))
        )
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await attempt_as(urls[service], delete)
    for producer in PRODUCERS:
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await attempt_as(
                urls[service],
                lambda channel, producer=producer: channel.declare_exchange(
                    NAMES.exchange(producer), ExchangeType.FANOUT, durable=True
                ),
            )

    # Everything is still there, as it was.
    async with await aio_pika.connect(urls["ops"]) as connection:
        channel = await connection.channel()
        for name in names_not_owned_by(service):
            if name in exchanges:
                found = await channel.declare_exchange(name, passive=True)
            else:
                found = await channel.declare_queue(name, passive=True)
            assert found.name == name


async def test_on_the_broker_scheduling_reads_nothing_of_payments(broker_users) -> None:  # type: ignore[no-untyped-def]
    """It cannot consume payments' queues, nor bind a queue of its own to `payments.events`."""
    urls = broker_users.urls
    for service in ("payments", "scheduling"):
        await declare_as(urls[service], service)

    async def ignore(_message: aio_pika.abc.AbstractIncomingMessage) -> None:
        return None

    for queue in (*own_queues("payments"), NAMES.unrouted_queue):
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await attempt_as(
                urls["scheduling"],
                lambda channel, queue=queue: _consume(channel, queue, ignore),
            )
    [scheduling_queue, *_] = own_queues("scheduling")
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await attempt_as(urls["scheduling"], lambda channel: _bind(channel, scheduling_queue))


async def _consume(
    channel: AbstractChannel,
    queue_name: str,
    callback: Callable[[aio_pika.abc.AbstractIncomingMessage], Awaitable[None]],
) -> None:
    queue = await channel.get_queue(queue_name, ensure=False)
    await queue.consume(callback)


async def _bind(channel: AbstractChannel, queue_name: str) -> None:
    queue = await channel.get_queue(queue_name, ensure=False)
    await queue.bind(NAMES.exchange("payments"), routing_key="#")


async def test_on_the_broker_a_service_cannot_consume_another_services_queue(
    broker_users,  # type: ignore[no-untyped-def]
) -> None:
    urls = broker_users.urls
    await declare_as(urls["contracts"], "contracts")
    [contracts_queue, *_] = own_queues("contracts")

    async def ignore(_message: aio_pika.abc.AbstractIncomingMessage) -> None:
        return None

    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await attempt_as(
            urls["payments"], lambda channel: _consume(channel, contracts_queue, ignore)
        )
