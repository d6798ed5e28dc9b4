"""The payments database: payable contracts and their cancellations, payment attempts, Stripe
events, outbox and inbox."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)

from skileez_events import Inbox, Outbox

metadata = MetaData()

contracts = Table(
    "contracts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("student_id", String(200), nullable=False),
    Column("coach_id", String(200), nullable=False),
    Column("title", Text, nullable=False),
    Column("session_count", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("learned_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Display names, when ContractCreated carries them (the pages show them instead of ids).
    Column("student_name", Text),
    Column("coach_name", Text),
)

PAYMENT_STATUSES = (
    "open",
    "processing",
    "succeeded",
    "failed",
    "expired",
    "refunded",
    "partially_refunded",
    "disputed",
    "held_for_review",
)

payments = Table(
    "payments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("contract_id", Uuid, ForeignKey("contracts.id"), nullable=False),
    Column("status", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_refunded", BigInteger, nullable=False, server_default=text("0")),
    Column("checkout_session_id", String(255), unique=True),
    Column("checkout_url", Text),
    Column("payment_intent_id", String(255), unique=True),
    Column("correlation_id", String(64), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("paid_at", DateTime(timezone=True)),
    Column("failure_reason", Text),
    Column("review_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("charged_amount", BigInteger),
    Column("charged_currency", String(3)),
    Column("charged_livemode", Boolean),
    Column("refund_decided", Boolean, nullable=False, server_default=text("false")),
    Column("stripe_dispute_id", String(255)),
    Column("dispute_outcome", String(8)),
    CheckConstraint(
        "status IN (" + ", ".join(f"'{s}'" for s in PAYMENT_STATUSES) + ")",
        name="payments_status_known",
    ),
    CheckConstraint(
        "amount_refunded >= 0 AND amount_refunded <= GREATEST(amount, COALESCE(charged_amount, 0))",
        name="payments_refund",
    ),
    CheckConstraint("dispute_outcome IN ('won', 'lost')", name="payments_dispute_outcome"),
    Index("payments_by_contract", "contract_id", "created_at"),
)
"""`charged_*`: what Stripe says it charged, which a held payment's review and refunds judge by."""

payment_reviews = Table(
    "payment_reviews",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("payment_id", Uuid, ForeignKey("payments.id"), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("note", Text, nullable=False),
    Column("reviewer", String(200), nullable=False),
    Column("reviewed_at", DateTime(timezone=True), nullable=False),
    Column("stripe_refund_id", String(255)),
    CheckConstraint("decision IN ('approve', 'refund')", name="payment_reviews_decision"),
    Index("payment_reviews_by_payment", "payment_id", "reviewed_at"),
)
"""Every decision a person took on a held payment: who, when, which, and why."""

refund_requests = Table(
    "refund_requests",
    metadata,
    Column("idempotency_key", String(200), primary_key=True),
    Column("payment_id", Uuid, ForeignKey("payments.id"), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("reason", String(40)),
    Column("stripe_idempotency_key", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("stripe_refund_id", String(255)),
    Column("refund_amount", BigInteger),
    Column("refund_status", String(40)),
    Column("answered_at", DateTime(timezone=True)),
)
"""Each admin refund once per Idempotency-Key: the request (its fingerprint, the amount it
resolved to) and, once Stripe answered, the answer every retry gets."""

stripe_events = Table(
    "stripe_events",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("type", String(200), nullable=False),
    Column("livemode", Boolean, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("source", String(20), nullable=False),
    Column("outcome", String(40), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("payment_intent", String(255)),
    Index(
        "stripe_events_waiting", "payment_intent", postgresql_where=text("outcome = 'unmatched'")
    ),
)
"""Every Stripe event once, with the raw body as received (audit), and what we made of it;
`payment_intent` is set on a refund or dispute recorded "unmatched", which waits for it."""

contract_cancellations = Table(
    "contract_cancellations",
    metadata,
    Column("contract_id", Uuid, primary_key=True),
    Column("cancelled_at", DateTime(timezone=True), nullable=False),
    Column("cancelled_by", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("refund_amount", BigInteger, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("refund_status", String(16), nullable=False),
    Column("payment_id", Uuid, ForeignKey("payments.id")),
    Column("stripe_refund_id", String(255)),
    Column("held_reason", Text),
    Column("decided_by", String(200)),
    Column("decision_note", Text),
    Column("decided_at", DateTime(timezone=True)),
    CheckConstraint(
        "refund_status IN ('none', 'asked', 'held', 'dropped')",
        name="contract_cancellations_refund_status",
    ),
    Index(
        "contract_cancellations_held",
        "received_at",
        postgresql_where=text("refund_status = 'held'"),
    ),
)
"""Each contract's cancellation once (ContractCancelled), which may come before the contract is
learnt (no key to `contracts`), and the refund it owes: asked of Stripe, or held for an operator,
with the operator's decision."""

reconciliation_cursor = Table(
    "reconciliation_cursor",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("created_since", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
"""How far back the reconciliation job needs to read Stripe's Events API."""

outbox = Outbox(metadata)
inbox = Inbox(metadata)
