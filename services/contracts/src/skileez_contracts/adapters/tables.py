"""The contracts database: proposals, contracts, the parties' notifications, the payment news
waiting for its payment's success, the contracts' sessions as scheduling reports them, outbox
and inbox."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)

from skileez_events import Inbox, Outbox

metadata = MetaData()
outbox = Outbox(metadata)
inbox = Inbox(metadata)

USER_ID = String(200)
PERSON_NAME = String(200)
"""A display name, as the `name` claim of a token carries it (at most 200 characters)."""

proposals = Table(
    "proposals",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("coach_id", USER_ID, nullable=False),
    Column("student_id", USER_ID, nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("session_count", Integer, nullable=False),
    Column("price_per_session", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True)),
    Column("coach_name", PERSON_NAME),
    Column("student_name", PERSON_NAME),
    CheckConstraint("status IN ('open', 'accepted', 'declined')", name="proposal_status"),
    CheckConstraint("session_count > 0 AND price_per_session >= 0", name="proposal_price"),
    Index("ix_proposals_coach_id", "coach_id"),
    Index("ix_proposals_student_id", "student_id"),
)

contracts = Table(
    "contracts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("proposal_id", Uuid, ForeignKey("proposals.id"), nullable=False, unique=True),
    Column("student_id", USER_ID, nullable=False),
    Column("coach_id", USER_ID, nullable=False),
    Column("title", String(200), nullable=False),
    Column("session_count", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("payment_status", String(16), nullable=False),
    Column("payment_id", Uuid),
    Column("stripe_payment_intent_id", String(255)),
    Column("payment_date", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("activated_at", DateTime(timezone=True)),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("stripe_dispute_id", String(255)),
    Column("dispute_status", String(16)),
    Column("student_name", PERSON_NAME),
    Column("coach_name", PERSON_NAME),
    Column("processing_payment_id", Uuid),
    Column("payment_processing_at", DateTime(timezone=True)),
    Column("failed_payment_id", Uuid),
    Column("amount_refunded", BigInteger, nullable=False, server_default=text("0")),
    Column("cancelled_by", USER_ID),
    Column("cancelled_by_role", String(16)),
    Column("cancellation_reason", Text),
    Column("cancellation_refund", BigInteger),
    Column("refunded_at_cancellation", BigInteger, nullable=False, server_default=text("0")),
    CheckConstraint(
        "status IN ('pending', 'active', 'suspended', 'cancelled')", name="contract_status"
    ),
    CheckConstraint(
        "payment_status IN ('pending', 'paid', 'failed', 'refunded', 'disputed')",
        name="contract_payment_status",
    ),
    CheckConstraint("dispute_status IN ('open', 'won', 'lost')", name="contract_dispute_status"),
    Index("ix_contracts_payment_status", "payment_status"),
    Index("ix_contracts_stripe_payment_intent_id", "stripe_payment_intent_id"),
    Index("ix_contracts_student_id", "student_id", "created_at"),
    Index("ix_contracts_coach_id", "coach_id", "created_at"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("recipient_id", USER_ID, nullable=False),
    Column("contract_id", Uuid, ForeignKey("contracts.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("amount", BigInteger),
    Column("currency", String(3), nullable=False),
    Column("source_event_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("read_at", DateTime(timezone=True)),
    Index("ix_notifications_recipient_id", "recipient_id", "created_at"),
    UniqueConstraint("source_event_id", "recipient_id", name="notifications_once_per_recipient"),
)
"""One notification per event and recipient: a cancellation tells both parties once."""

waiting_payment_events = Table(
    "waiting_payment_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("payment_id", Uuid, nullable=False),
    Column("contract_id", Uuid, ForeignKey("contracts.id"), nullable=False),
    Column("event_type", String(128), nullable=False),
    Column("body", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("ix_waiting_payment_events_payment_id", "payment_id", "received_at"),
)
"""A refund or dispute of a payment whose success the contract has not seen: the whole
CloudEvent, applied (and deleted) when that success arrives, else kept for operators to see."""

contract_sessions = Table(
    "contract_sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("contract_id", Uuid, nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("cancelled_at", DateTime(timezone=True)),
    Index("ix_contract_sessions_contract_id", "contract_id", "starts_at"),
)
"""The sessions scheduling booked for each contract (SessionBooked, SessionCancelled), as the
cancellation policy counts them; a cancellation is kept whichever of the two came first."""
