"""The PaymentIntent of a Stripe event recorded "unmatched", and an index of those events.

A refund or dispute that names a PaymentIntent no payment has yet waits, recorded
"unmatched", until a payment with that intent becomes paid, which then applies it. Those
recorded before this revision get their intent from their stored body. The index is built
without blocking the webhook's inserts (CONCURRENTLY, outside the migration's transaction).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("stripe_events", sa.Column("payment_intent", sa.String(255), nullable=True))
    op.execute(
        "UPDATE stripe_events SET payment_intent = COALESCE("
        " convert_from(payload, 'UTF8')::jsonb #>> '{data,object,payment_intent,id}',"
        " convert_from(payload, 'UTF8')::jsonb #>> '{data,object,payment_intent}')"
        " WHERE outcome = 'unmatched' AND type IN ('charge.refunded', 'charge.dispute.created')"
    )
    with op.get_context().autocommit_block():
        op.create_index(
            "stripe_events_waiting",
            "stripe_events",
            ["payment_intent"],
            postgresql_where=sa.text("outcome = 'unmatched'"),
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "stripe_events_waiting", table_name="stripe_events", postgresql_concurrently=True
        )
    op.drop_column("stripe_events", "payment_intent")
