"""Early warnings of the daily watch: one row per company, kind and subject.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "company_warning",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("company_id", sa.Integer(), sa.ForeignKey("company.id"), nullable=False),
        sa.Column("filing_id", sa.Integer(), sa.ForeignKey("filing.id"), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("first_seen", sa.Date(), nullable=False),
        sa.Column("last_seen", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("loss_on", sa.Date(), nullable=True),
        sa.Column("saving_at_stake_kzt", sa.Float(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("company_id", "kind", "subject", name="uq_company_warning"),
    )
    op.create_index("ix_company_warning_company_id", "company_warning", ["company_id"])
    op.create_index(
        "ix_company_warning_state_loss", "company_warning", ["state", "kind", "loss_on"]
    )


def downgrade() -> None:
    op.drop_index("ix_company_warning_state_loss", table_name="company_warning")
    op.drop_index("ix_company_warning_company_id", table_name="company_warning")
    op.drop_table("company_warning")
