"""Sessions and tokens revoked everywhere: the user's session epoch, tokens' expiry.

``user.session_epoch`` is part of every signed-in session's identity: a password change
or a deactivation raises it, and every session signed in under the old value is refused
on its next request, whichever server and session store holds it. ``api_token.expires_at``
is the instant from which a token is refused (NULL: until revoked).

Revision ID: 0009_session_revocation
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_session_revocation"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.add_column(
            sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("expires_at")
    with op.batch_alter_table("user") as batch:
        batch.drop_column("session_epoch")
