"""The backoffice: the append-only event archive and audit log, the read model projected from
the archive (contracts, payments with their timeline, refunds, disputes, holds, sessions), the
inbox and the sign-in codes.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from skileez_events.tables import inbox_table
from skileez_web.sign_in import create_sign_in_codes_table, drop_sign_in_codes_table

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("event_archive", "audit_log")


def upgrade() -> None:
    inbox_table(sa.MetaData()).create(op.get_bind())  # no outbox: it publishes nothing
    create_sign_in_codes_table(op)
    op.create_table(
        "event_archive",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("envelope", postgresql.JSONB, nullable=False),
    )
    op.create_table(
        "contracts",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("proposal_id", sa.Uuid),
        sa.Column("student_id", sa.String(200)),
        sa.Column("student_name", sa.String(200)),
        sa.Column("coach_id", sa.String(200)),
        sa.Column("coach_name", sa.String(200)),
        sa.Column("title", sa.Text),
        sa.Column("session_count", sa.Integer),
        sa.Column("amount", sa.BigInteger),
        sa.Column("currency", sa.String(3)),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("activated_at", sa.DateTime(timezone=True)),
        sa.Column("paid_by", sa.Uuid),
        sa.Column("payment_failed_at", sa.DateTime(timezone=True)),
        sa.Column("payment_failure", sa.Text),
        sa.Column("suspended_at", sa.DateTime(timezone=True)),
        sa.Column("suspension_reason", sa.Text),
        sa.Column("reinstated_at", sa.DateTime(timezone=True)),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
        sa.Column("cancellation_reason", sa.Text),
        sa.Column("cancelled_by", sa.String(200)),
        sa.Column("refund_owed", sa.BigInteger),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("contract_id", sa.Uuid, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", sa.BigInteger),
        sa.Column("currency", sa.String(3)),
        sa.Column("stripe_checkout_session_id", sa.String(255)),
        sa.Column("stripe_payment_intent_id", sa.String(255)),
        sa.Column("processing_at", sa.DateTime(timezone=True)),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
        sa.Column("failed_at", sa.DateTime(timezone=True)),
        sa.Column("failure_reason", sa.Text),
        sa.Column("held_at", sa.DateTime(timezone=True)),
        sa.Column("held_reason", sa.Text),
        sa.Column("held_amount", sa.BigInteger),
        sa.Column("held_currency", sa.String(3)),
        sa.Column("refunded_total", sa.BigInteger, nullable=False),
        sa.Column("fully_refunded", sa.Boolean, nullable=False),
        sa.Column("last_refunded_at", sa.DateTime(timezone=True)),
        sa.Column("dispute_opened_at", sa.DateTime(timezone=True)),
        sa.Column("dispute_closed_at", sa.DateTime(timezone=True)),
        sa.Column("dispute_outcome", sa.String(8)),
    )
    op.create_table(
        "payment_timeline",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("payment_id", sa.Uuid, nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("causation_id", sa.String(64)),
    )
    op.create_table(
        "refunds",
        sa.Column("stripe_refund_id", sa.String(255), primary_key=True),
        sa.Column("payment_id", sa.Uuid, nullable=False),
        sa.Column("contract_id", sa.Uuid, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("total_refunded", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("fully_refunded", sa.Boolean, nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "disputes",
        sa.Column("stripe_dispute_id", sa.String(255), primary_key=True),
        sa.Column("payment_id", sa.Uuid, nullable=False),
        sa.Column("contract_id", sa.Uuid, nullable=False),
        sa.Column("amount", sa.BigInteger),
        sa.Column("currency", sa.String(3)),
        sa.Column("reason", sa.Text),
        sa.Column("opened_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(8)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "holds",
        sa.Column("payment_id", sa.Uuid, primary_key=True),
        sa.Column("held_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("contract_id", sa.Uuid, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("contract_id", sa.Uuid, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer, nullable=False),
        sa.Column("booked_by", sa.String(200)),
        sa.Column("booked_at", sa.DateTime(timezone=True)),
        sa.Column("cancelled_by", sa.String(200)),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor_id", sa.String(200), nullable=False),
        sa.Column("actor_name", sa.String(200)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("succeeded", sa.Boolean, nullable=False),
    )
    op.create_index("contracts_by_coach", "contracts", ["coach_id"])
    op.create_index("contracts_by_created", "contracts", ["created_at"])
    op.create_index("payments_by_first_seen", "payments", ["first_seen_at", "id"])
    op.create_index("payments_by_contract", "payments", ["contract_id"])
    op.create_index("payments_by_paid_at", "payments", ["paid_at"])
    op.create_index("payment_timeline_by_payment", "payment_timeline", ["payment_id", "at"])
    op.create_index("refunds_by_time", "refunds", ["refunded_at"])
    op.create_index("refunds_by_payment", "refunds", ["payment_id"])
    op.create_index("disputes_by_payment", "disputes", ["payment_id"])
    op.create_index("sessions_by_contract", "sessions", ["contract_id", "starts_at"])
    op.create_index("audit_log_by_subject", "audit_log", ["subject"])
    op.execute(
        "CREATE FUNCTION refuse_rewriting() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION refuse_rewriting()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_never_truncated BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION refuse_rewriting()"
        )


def downgrade() -> None:
    for table in (
        "audit_log",
        "sessions",
        "holds",
        "disputes",
        "refunds",
        "payment_timeline",
        "payments",
        "contracts",
        "event_archive",
    ):
        op.drop_table(table)
    op.execute("DROP FUNCTION refuse_rewriting()")
    drop_sign_in_codes_table(op)
    op.drop_table("inbox")
