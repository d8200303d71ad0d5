"""One catalogue of policy versions: approval by a second person, retirement, publisher;
studio jobs with a heartbeat and the date an impact analysis assesses on.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("policy_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("approved_revision", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("published_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("retired_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("retired_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_policy_version_approved_by_id_user", "user", ["approved_by_id"], ["id"]
        )
        batch_op.create_foreign_key(
            "fk_policy_version_published_by_id_user", "user", ["published_by_id"], ["id"]
        )
        batch_op.create_foreign_key(
            "fk_policy_version_retired_by_id_user", "user", ["retired_by_id"], ["id"]
        )
    with op.batch_alter_table("studio_job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("as_of", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("studio_job", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("as_of")
    with op.batch_alter_table("policy_version", schema=None) as batch_op:
        batch_op.drop_constraint("fk_policy_version_retired_by_id_user", type_="foreignkey")
        batch_op.drop_constraint("fk_policy_version_published_by_id_user", type_="foreignkey")
        batch_op.drop_constraint("fk_policy_version_approved_by_id_user", type_="foreignkey")
        batch_op.drop_column("retired_by_id")
        batch_op.drop_column("retired_at")
        batch_op.drop_column("retired_from")
        batch_op.drop_column("published_by_id")
        batch_op.drop_column("approved_revision")
        batch_op.drop_column("approved_at")
        batch_op.drop_column("approved_by_id")
