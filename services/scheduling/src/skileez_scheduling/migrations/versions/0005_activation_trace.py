"""The trace context of a contract's activation, which the spans of its bookings link to.

Scheduling publishes SessionBooked and SessionCancelled through the outbox 0001 created.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contracts", sa.Column("activation_traceparent", sa.Text))


def downgrade() -> None:
    op.drop_column("contracts", "activation_traceparent")
