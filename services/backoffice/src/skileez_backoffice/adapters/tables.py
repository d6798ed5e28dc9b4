"""The backoffice's own tables: the event archive, the read model projected from it, the audit
log of operator actions, and the event inbox.

The archive and the audit log are append-only (a trigger refuses UPDATE, DELETE and TRUNCATE).
The read model is what `rebuild` empties and fills again from the archive: every column of it is
derived from events alone, so replaying the archive gives the same rows as live consumption.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from skileez_events import Inbox
from skileez_web.auth import MAX_NAME, MAX_USER_ID
from skileez_web.sign_in import sign_in_codes_table

metadata = MetaData()
inbox = Inbox(metadata)
sign_in_codes = sign_in_codes_table(metadata)

event_archive = Table(
    "event_archive",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("event_type", String(200), nullable=False),
    Column("subject", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("envelope", JSONB, nullable=False),
)

contracts = Table(
    "contracts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("proposal_id", Uuid),
    Column("student_id", String(MAX_USER_ID)),
    Column("student_name", String(MAX_NAME)),
    Column("coach_id", String(MAX_USER_ID)),
    Column("coach_name", String(MAX_NAME)),
    Column("title", Text),
    Column("session_count", Integer),
    Column("amount", BigInteger),
    Column("currency", String(3)),
    Column("created_at", DateTime(timezone=True)),
    Column("activated_at", DateTime(timezone=True)),
    Column("paid_by", Uuid),
    Column("payment_failed_at", DateTime(timezone=True)),
    Column("payment_failure", Text),
    Column("suspended_at", DateTime(timezone=True)),
    Column("suspension_reason", Text),
    Column("reinstated_at", DateTime(timezone=True)),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("cancellation_reason", Text),
    Column("cancelled_by", String(MAX_USER_ID)),
    Column("refund_owed", BigInteger),
    Index("contracts_by_coach", "coach_id"),
    Index("contracts_by_created", "created_at"),
)

payments = Table(
    "payments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("contract_id", Uuid, nullable=False),
    Column("status", String(24), nullable=False),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Column("amount", BigInteger),
    Column("currency", String(3)),
    Column("stripe_checkout_session_id", String(255)),
    Column("stripe_payment_intent_id", String(255)),
    Column("processing_at", DateTime(timezone=True)),
    Column("paid_at", DateTime(timezone=True)),
    Column("failed_at", DateTime(timezone=True)),
    Column("failure_reason", Text),
    Column("held_at", DateTime(timezone=True)),
    Column("held_reason", Text),
    Column("held_amount", BigInteger),
    Column("held_currency", String(3)),
    Column("refunded_total", BigInteger, nullable=False),
    Column("fully_refunded", Boolean, nullable=False),
    Column("last_refunded_at", DateTime(timezone=True)),
    Column("dispute_opened_at", DateTime(timezone=True)),
    Column("dispute_closed_at", DateTime(timezone=True)),
    Column("dispute_outcome", String(8)),
    Index("payments_by_first_seen", "first_seen_at", "id"),
    Index("payments_by_contract", "contract_id"),
    Index("payments_by_paid_at", "paid_at"),
)

payment_timeline = Table(
    "payment_timeline",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("payment_id", Uuid, nullable=False),
    Column("state", String(24), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("detail", Text, nullable=False),
    Column("correlation_id", String(64), nullable=False),
    Column("causation_id", String(64)),
    Index("payment_timeline_by_payment", "payment_id", "at"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("stripe_refund_id", String(255), primary_key=True),
    Column("payment_id", Uuid, nullable=False),
    Column("contract_id", Uuid, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("total_refunded", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("fully_refunded", Boolean, nullable=False),
    Column("refunded_at", DateTime(timezone=True), nullable=False),
    Index("refunds_by_time", "refunded_at"),
    Index("refunds_by_payment", "payment_id"),
)

disputes = Table(
    "disputes",
    metadata,
    Column("stripe_dispute_id", String(255), primary_key=True),
    Column("payment_id", Uuid, nullable=False),
    Column("contract_id", Uuid, nullable=False),
    Column("amount", BigInteger),
    Column("currency", String(3)),
    Column("reason", Text),
    Column("opened_at", DateTime(timezone=True)),
    Column("outcome", String(8)),
    Column("closed_at", DateTime(timezone=True)),
    Index("disputes_by_payment", "payment_id"),
)

holds = Table(
    "holds",
    metadata,
    Column("payment_id", Uuid, primary_key=True),
    Column("held_at", DateTime(timezone=True), primary_key=True),
    Column("contract_id", Uuid, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", Text, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("contract_id", Uuid, nullable=False),
    Column("status", String(16), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("booked_by", String(MAX_USER_ID)),
    Column("booked_at", DateTime(timezone=True)),
    Column("cancelled_by", String(MAX_USER_ID)),
    Column("cancelled_at", DateTime(timezone=True)),
    Index("sessions_by_contract", "contract_id", "starts_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor_id", String(MAX_USER_ID), nullable=False),
    Column("actor_name", String(MAX_NAME)),
    Column("action", String(64), nullable=False),
    Column("subject", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Index("audit_log_by_subject", "subject"),
)

READ_MODEL = (contracts, payments, payment_timeline, refunds, disputes, holds, sessions)
"""The tables `rebuild` empties and fills again from the archive."""

APPEND_ONLY = (event_archive, audit_log)
"""The tables a trigger keeps append-only."""
