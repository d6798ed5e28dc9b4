"""Prometheus metrics of the payments service (served by the shared `/metrics`)."""

from __future__ import annotations

from prometheus_client import Counter

PAYMENT_STATUS_CHANGES = Counter(
    "skileez_payments_status_changes_total",
    "Payments that moved into each status (committed)",
    ["status"],
)
WEBHOOK_OUTCOMES = Counter(
    "skileez_stripe_webhooks_total",
    "Stripe webhook deliveries by outcome",
    ["outcome"],
)
RECONCILED_EVENTS = Counter(
    "skileez_stripe_events_reconciled_total",
    "Stripe events found by reconciliation that no webhook had delivered",
)
RECONCILIATION_PASSES = Counter(
    "skileez_reconciliation_passes_total",
    "Reconciliation passes this replica ran to the end (an operator sees it is alive)",
)
WAITED_EVENTS = Counter(
    "skileez_stripe_events_waited_total",
    "Refunds and disputes that arrived before their payment was paid, applied once it was"
    " (committed), by outcome",
    ["outcome"],
)
