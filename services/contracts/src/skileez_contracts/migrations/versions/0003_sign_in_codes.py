"""The sign-in codes of this service's sign-in links (skileez_web.sign_in).

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

from collections.abc import Sequence

from alembic import op

from skileez_web.sign_in import create_sign_in_codes_table, drop_sign_in_codes_table

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_sign_in_codes_table(op)


def downgrade() -> None:
    drop_sign_in_codes_table(op)
