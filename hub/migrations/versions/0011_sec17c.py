"""Account confirmation: ``user.email_confirmed`` (self-registered accounts stay
unconfirmed, and cannot sign in, until the link of their confirmation mail is followed).

Revision ID: 0011_sec17c
Revises: 0010_notifications
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_sec17c"
down_revision: str | None = "0010_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Accounts that exist already are in use: they count as confirmed.
    with op.batch_alter_table("user") as batch:
        batch.add_column(
            sa.Column("email_confirmed", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.drop_column("email_confirmed")
