"""All emulator state, in memory: gone when the process stops or on a reset."""

from __future__ import annotations

from dataclasses import dataclass, field

from stripe_emulator.wire import JsonObject


@dataclass
class PendingSettlement:
    """A delayed payment (SEPA debit) waiting to succeed or fail."""

    payment_intent: str
    session: str
    succeed: bool
    due_at: float | None  # emulator time; None: only the control API settles it


@dataclass
class IdempotentResult:
    fingerprint: str
    status: int
    body: str
    created: int


@dataclass
class Store:
    """Objects by id, each dict in insertion (= creation) order."""

    sessions: dict[str, JsonObject] = field(default_factory=dict)
    line_items: dict[str, list[JsonObject]] = field(default_factory=dict)
    # The products of the line items' `product_data`, by id (the page shows their unit label).
    products: dict[str, JsonObject] = field(default_factory=dict)
    # `payment_intent_data` of each session, applied when its PaymentIntent is created.
    intent_data: dict[str, JsonObject] = field(default_factory=dict)
    # `subscription_data` of each `subscription`-mode session, applied to its subscription.
    subscription_data: dict[str, JsonObject] = field(default_factory=dict)
    payment_intents: dict[str, JsonObject] = field(default_factory=dict)
    charges: dict[str, JsonObject] = field(default_factory=dict)
    refunds: dict[str, JsonObject] = field(default_factory=dict)
    disputes: dict[str, JsonObject] = field(default_factory=dict)
    customers: dict[str, JsonObject] = field(default_factory=dict)
    payment_methods: dict[str, JsonObject] = field(default_factory=dict)
    subscriptions: dict[str, JsonObject] = field(default_factory=dict)
    invoices: dict[str, JsonObject] = field(default_factory=dict)
    invoice_payments: dict[str, JsonObject] = field(default_factory=dict)
    test_clocks: dict[str, JsonObject] = field(default_factory=dict)
    portal_sessions: dict[str, JsonObject] = field(default_factory=dict)
    events: dict[str, JsonObject] = field(default_factory=dict)
    webhook_endpoints: dict[str, JsonObject] = field(default_factory=dict)
    webhook_secrets: dict[str, str] = field(default_factory=dict)
    settlements: dict[str, PendingSettlement] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], IdempotentResult] = field(default_factory=dict)

    def clear(self) -> None:
        for value in vars(self).values():
            value.clear()


def newest_first(objects: dict[str, JsonObject]) -> list[JsonObject]:
    """Stripe lists newest first; insertion order breaks ties within one second."""
    return list(reversed(objects.values()))
