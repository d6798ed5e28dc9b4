"""The outbox's lease: a row belongs to the relay of the process that committed it for a while.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from alembic import op

from skileez_events.migrations import add_outbox_leases, drop_outbox_leases

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_leases(op)


def downgrade() -> None:
    drop_outbox_leases(op)
