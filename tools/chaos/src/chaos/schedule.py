"""The seeded plan of a run: which payment flows, and which faults at which moments. The same
seed gives the same plan, printed before the run so a failure can be replayed."""

from __future__ import annotations

import random
from dataclasses import dataclass

FLOWS = (
    ("card", 5),
    ("declined_then_paid", 2),
    ("delayed_success", 2),
    ("delayed_failure", 1),
    ("expired_then_paid", 2),
    ("partial_refund", 1),
    ("full_refund", 1),
    ("dispute_won", 1),
    ("dispute_lost", 1),
    ("booked_and_cancelled", 2),
    ("held_and_reviewed", 1),
)
"""Payment flows and their weights."""

SAFE_FAULTS = (
    "sigkill",
    "sigterm",
    "broker_connections_closed",
    "database_backends_terminated",
    "database_refused",
    "webhook_chaos",
    "webhooks_dropped",
    "black_hole_broker",
    "black_hole_database",
)
"""Faults that touch only this run's processes, connections and databases."""
BROKER_RESTART = "broker_restart"
"""Stops and starts the shared broker's app: only with `--broker-restarts`, never in CI."""


@dataclass(frozen=True)
class Fault:
    at: float
    """Seconds after the drive starts."""
    kind: str
    target: str
    """A replica's process name, a service, or the server concerned."""
    lasts: float
    """Seconds until it is undone: the pause before a restart, the length of a stall."""

    def __str__(self) -> str:
        return f"t+{self.at:6.1f}s  {self.kind:<30} {self.target:<14} {self.lasts:4.1f}s"


@dataclass(frozen=True)
class Plan:
    flows: list[str]
    faults: list[Fault]


def plan(
    seed: int,
    payments: int,
    replicas: list[str],
    services: tuple[str, ...],
    broker_restarts: bool = False,
) -> Plan:
    """`payments` flows, and faults every one to three seconds over the time the flows take
    here (about 0.25 s a payment, six at a time)."""
    rng = random.Random(seed)
    names, weights = zip(*FLOWS, strict=True)
    flows = rng.choices(names, weights=weights, k=payments)
    kinds = SAFE_FAULTS + ((BROKER_RESTART,) if broker_restarts else ())
    span = max(15.0, payments * 0.25)
    faults: list[Fault] = []
    at = rng.uniform(2.0, 5.0)
    while at < span:
        kind = rng.choice(kinds)
        target = _target(rng, kind, replicas, services)
        lasts = round(rng.uniform(1.0, 6.0 if kind.startswith("black_hole") else 4.0), 1)
        faults.append(Fault(round(at, 1), kind, target, lasts))
        at += rng.uniform(1.0, 3.0)
    return Plan(flows, faults)


def _target(rng: random.Random, kind: str, replicas: list[str], services: tuple[str, ...]) -> str:
    if kind in ("sigkill", "sigterm"):
        return rng.choice(replicas)
    if kind == "database_backends_terminated":
        return rng.choice(services)
    return "broker" if "broker" in kind else "database" if "database" in kind else "emulator"
