"""Reviews of held payments, disputes on payments, and admin refunds kept per Idempotency-Key.

Payments gain what Stripe says it charged (a review judges by it, refunds of a held payment
are counted against it), whether a review decided a refund, and their dispute's id and
outcome. `payment_reviews` records every decision; `refund_requests` each refund request once.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("charged_amount", sa.BigInteger))
    op.add_column("payments", sa.Column("charged_currency", sa.String(3)))
    op.add_column("payments", sa.Column("charged_livemode", sa.Boolean))
    op.add_column(
        "payments",
        sa.Column("refund_decided", sa.Boolean, nullable=False, server_default=sa.text("false")),
    )
    op.add_column("payments", sa.Column("stripe_dispute_id", sa.String(255)))
    op.add_column("payments", sa.Column("dispute_outcome", sa.String(8)))
    op.create_check_constraint(
        "payments_dispute_outcome", "payments", "dispute_outcome IN ('won', 'lost')"
    )
    op.drop_constraint("payments_refund", "payments", type_="check")
    op.create_check_constraint(
        "payments_refund",
        "payments",
        "amount_refunded >= 0 AND amount_refunded <= GREATEST(amount, COALESCE(charged_amount, 0))",
    )
    op.create_table(
        "payment_reviews",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("payment_id", sa.Uuid, sa.ForeignKey("payments.id"), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stripe_refund_id", sa.String(255)),
        sa.CheckConstraint("decision IN ('approve', 'refund')", name="payment_reviews_decision"),
    )
    op.create_index("payment_reviews_by_payment", "payment_reviews", ["payment_id", "reviewed_at"])
    op.create_table(
        "refund_requests",
        sa.Column("idempotency_key", sa.String(200), primary_key=True),
        sa.Column("payment_id", sa.Uuid, sa.ForeignKey("payments.id"), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(40)),
        sa.Column("stripe_idempotency_key", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stripe_refund_id", sa.String(255)),
        sa.Column("refund_amount", sa.BigInteger),
        sa.Column("refund_status", sa.String(40)),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("refund_requests")
    op.drop_index("payment_reviews_by_payment", table_name="payment_reviews")
    op.drop_table("payment_reviews")
    op.drop_constraint("payments_refund", "payments", type_="check")
    op.create_check_constraint(
        "payments_refund", "payments", "amount_refunded >= 0 AND amount_refunded <= amount"
    )
    op.drop_constraint("payments_dispute_outcome", "payments", type_="check")
    for column in (
        "dispute_outcome",
        "stripe_dispute_id",
        "refund_decided",
        "charged_livemode",
        "charged_currency",
        "charged_amount",
    ):
        op.drop_column("payments", column)
