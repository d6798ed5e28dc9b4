"""The PaymentIntent of a Stripe event recorded "unmatched", and an index of those events.

A refund or dispute that names a PaymentIntent no payment has yet waits, recorded
"unmatched", until a payment with that intent becomes paid, which then applies it.

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
    op.create_index(
        "stripe_events_waiting",
        "stripe_events",
        ["payment_intent"],
        postgresql_where=sa.text("outcome = 'unmatched'"),
    )


def downgrade() -> None:
    op.drop_index("stripe_events_waiting", table_name="stripe_events")
    op.drop_column("stripe_events", "payment_intent")
