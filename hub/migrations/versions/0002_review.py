"""Review: criterion overrides, the certified decision, certificate codes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "criterion_override",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=False),
        sa.Column("criterion_id", sa.String(length=64), nullable=False),
        sa.Column("engine_status", sa.String(length=16), nullable=False),
        sa.Column("previous_status", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["filing_id"], ["filing.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("criterion_override", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_criterion_override_filing_id"), ["filing_id"], unique=False
        )

    with op.batch_alter_table("filing", schema=None) as batch_op:
        batch_op.add_column(sa.Column("final_decision", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("tier_granted", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("certificate_code", sa.String(length=32), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_filing_certificate_code"), ["certificate_code"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("filing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_filing_certificate_code"))
        batch_op.drop_column("certificate_code")
        batch_op.drop_column("tier_granted")
        batch_op.drop_column("final_decision")

    with op.batch_alter_table("criterion_override", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_criterion_override_filing_id"))

    op.drop_table("criterion_override")
