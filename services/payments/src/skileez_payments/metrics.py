"""Prometheus metrics of the payments service (served by the shared `/metrics`): counters
moved as things happen, and gauges of what waits for an operator, sampled on an interval."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_db.connections import transaction
from skileez_web.backlog import Sample

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
WEBHOOK_EVENTS = Counter(
    "skileez_stripe_webhook_events_total",
    "Signed Stripe events delivered by webhook, by event type and outcome",
    ["type", "outcome"],
)
STRIPE_CALL_SECONDS = Histogram(
    "skileez_stripe_call_seconds",
    "Stripe API calls' latency (its retries included), by operation",
    ["operation"],
)
STRIPE_CALL_ERRORS = Counter(
    "skileez_stripe_call_errors_total",
    "Stripe API calls that failed, by operation and kind: unavailable (worth retrying) or refused",
    ["operation", "kind"],
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
HELD_PAYMENTS = Gauge(
    "skileez_payments_held", "Payments held for review, waiting for an admin's decision"
)
OLDEST_HELD_PAYMENT = Gauge(
    "skileez_payments_oldest_held_seconds",
    "How long the longest-held payment has waited for review (0 when none waits)",
)
OPEN_DISPUTES = Gauge("skileez_payments_disputes_open", "Disputes Stripe has not closed yet")
RECONCILIATION_LAG = Gauge(
    "skileez_reconciliation_lag_seconds",
    "Seconds since a reconciliation pass (any replica's) last completed",
)

_WAITING = (
    "SELECT count(*) FILTER (WHERE status = 'held_for_review') AS held,"
    " coalesce(extract(epoch FROM now() - min(updated_at)"
    " FILTER (WHERE status = 'held_for_review')), 0) AS oldest_held,"
    " count(*) FILTER (WHERE stripe_dispute_id IS NOT NULL AND dispute_outcome IS NULL)"
    " AS disputes,"
    " (SELECT extract(epoch FROM now() - updated_at) FROM reconciliation_cursor"
    " WHERE name = 'stripe_events') AS reconciliation"
    " FROM payments"
    " WHERE status = 'held_for_review'"
    " OR (stripe_dispute_id IS NOT NULL AND dispute_outcome IS NULL)"
)


def waiting_sample(engine: AsyncEngine) -> Sample:
    """Held payments, open disputes and the reconciliation's lag, in one query."""

    async def sample() -> None:
        async with transaction(engine) as connection:
            row = await connection.fetchrow(_WAITING)
        assert row is not None  # an aggregate always answers one row
        HELD_PAYMENTS.set(row["held"])
        OLDEST_HELD_PAYMENT.set(float(row["oldest_held"]))
        OPEN_DISPUTES.set(row["disputes"])
        if row["reconciliation"] is not None:
            RECONCILIATION_LAG.set(float(row["reconciliation"]))

    return sample
