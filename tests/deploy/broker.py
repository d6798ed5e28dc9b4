"""What the broker tests share: deploy/rabbitmq/definitions.json, the names the deployment
uses (its `EVENTS_NAMESPACE`), and the topology each service declares under its own user."""

from __future__ import annotations

import json
import re
from typing import Any

import aio_pika
import yaml

from skileez_events.schemas import event_type_of
from skileez_events.topology import (
    PRODUCERS,
    SUBSCRIPTIONS,
    Names,
    declare_exchanges,
    declare_subscription,
)

from .conftest import DEPLOY, ROOT, rabbitmqctl

DEFINITIONS: dict[str, Any] = json.loads((DEPLOY / "rabbitmq" / "definitions.json").read_text())
SERVICES = tuple(SUBSCRIPTIONS)

COMPOSE_NAMESPACE: str = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["x-service-env"][
    "EVENTS_NAMESPACE"
]
KUBERNETES_NAMESPACE: str = yaml.safe_load(
    (DEPLOY / "k8s" / "base" / "configmap.yaml").read_text()
)["data"]["EVENTS_NAMESPACE"]
NAMES = Names(KUBERNETES_NAMESPACE)
"""The names as deployed (compose and Kubernetes use the same namespace: a test checks it)."""


def own_queues(service: str) -> list[str]:
    """A consumer's queues and their dead-letter queues."""
    queues = []
    for model in SUBSCRIPTIONS[service]:
        queue = NAMES.queue(service, event_type_of(model))
        queues += [queue, NAMES.dead_letter_queue(queue)]
    return queues


def policy_named(name: str) -> dict[str, Any]:
    [policy] = [p for p in DEFINITIONS["policies"] if p["name"] == name]
    return policy


def policies_matching(queue: str) -> list[str]:
    """The definitions' queue policies whose pattern matches (RabbitMQ searches, as re.search)."""
    return [
        p["name"]
        for p in DEFINITIONS["policies"]
        if p["apply-to"] in ("queues", "all") and re.search(p["pattern"], queue)
    ]


async def declare_as(url: str, service: str) -> None:
    """What a service declares at start-up: its relay the producer exchanges (a producer's),
    its consumer its subscriptions."""
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel()
        if service in PRODUCERS:
            await declare_exchanges(channel, NAMES)
        for model in SUBSCRIPTIONS[service]:
            await declare_subscription(channel, NAMES, service, model)


def listed(*args: str) -> list[dict[str, Any]]:
    """A rabbitmqctl listing (`list_queues -p ...`), parsed from its JSON output."""
    rows: list[dict[str, Any]] = json.loads(rabbitmqctl(*args, "--formatter", "json"))
    return rows
