"""The service's own tables: its view of contracts, the sessions, the event outbox and inbox."""

from __future__ import annotations

from sqlalchemy import (
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
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint

from skileez_events import Inbox, Outbox

metadata = MetaData()
outbox = Outbox(metadata)
inbox = Inbox(metadata)

COACH_OVERLAP = "sessions_coach_no_overlap"
STUDENT_OVERLAP = "sessions_student_no_overlap"

contracts = Table(
    "contracts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("status", String(16), nullable=False),
    # Unknown until ContractCreated or ContractActivated arrives (a cancellation may come first).
    Column("student_id", String(200)),
    Column("coach_id", String(200)),
    Column("session_count", Integer),
    Column("title", Text),
    # Display names, when ContractCreated carries them (pages show them instead of ids).
    Column("student_name", Text),
    Column("coach_name", Text),
    Column("closed_reason", Text),
    Column("closed_at", DateTime(timezone=True)),
    # The latest suspension and reinstatement heard of: the later one says which holds.
    Column("suspended_at", DateTime(timezone=True)),
    Column("suspension_reason", Text),
    Column("reinstated_at", DateTime(timezone=True)),
    # The W3C traceparent the activation was applied under: bookings' spans link to it.
    Column("activation_traceparent", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("status IN ('pending', 'active', 'closed')", name="contracts_status"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("contract_id", Uuid, ForeignKey("contracts.id"), nullable=False),
    Column("student_id", String(200), nullable=False),
    Column("coach_id", String(200), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("booked_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("cancelled_by", String(200)),
    Column("cancellation_reason", Text),
    CheckConstraint("status IN ('scheduled', 'cancelled')", name="sessions_status"),
    CheckConstraint("ends_at > starts_at", name="sessions_ends_after_start"),
    Index("sessions_by_contract", "contract_id", "starts_at"),
    # The database, not the application, guarantees no double booking, even under races.
    ExcludeConstraint(
        (text("coach_id"), "="),
        (text("tstzrange(starts_at, ends_at)"), "&&"),
        name=COACH_OVERLAP,
        using="gist",
        where=text("status = 'scheduled'"),
    ),
    ExcludeConstraint(
        (text("student_id"), "="),
        (text("tstzrange(starts_at, ends_at)"), "&&"),
        name=STUDENT_OVERLAP,
        using="gist",
        where=text("status = 'scheduled'"),
    ),
)
