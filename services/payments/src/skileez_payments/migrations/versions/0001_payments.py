"""Payable contracts, payment attempts, Stripe events, reconciliation cursor, outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2025-11-26
"""

import sqlalchemy as sa
from alembic import op

from skileez_events.migrations import create_messaging_tables, drop_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATUSES = (
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


def upgrade() -> None:
    create_messaging_tables(op)
    op.create_table(
        "contracts",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("student_id", sa.String(200), nullable=False),
        sa.Column("coach_id", sa.String(200), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("session_count", sa.Integer, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "learned_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("contract_id", sa.Uuid, sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_refunded", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("checkout_session_id", sa.String(255), unique=True),
        sa.Column("checkout_url", sa.Text),
        sa.Column("payment_intent_id", sa.String(255), unique=True),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
        sa.Column("failure_reason", sa.Text),
        sa.Column("review_reason", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")",
            name="payments_status_known",
        ),
        sa.CheckConstraint(
            "amount_refunded >= 0 AND amount_refunded <= amount", name="payments_refund"
        ),
    )
    op.create_index("payments_by_contract", "payments", ["contract_id", "created_at"])
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("livemode", sa.Boolean, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "reconciliation_cursor",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("created_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("reconciliation_cursor")
    op.drop_table("stripe_events")
    op.drop_index("payments_by_contract", table_name="payments")
    op.drop_table("payments")
    op.drop_table("contracts")
    drop_messaging_tables(op)
