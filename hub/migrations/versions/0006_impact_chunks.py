"""Impact analyses in chunks: runs, their chunks (partial totals) and stored rows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "impact_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("studio_job.id"), nullable=True),
        sa.Column("policy_id", sa.String(100), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("digest", sa.String(100), nullable=False),
        sa.Column("candidate_text", sa.Text(), nullable=False),
        sa.Column("against", sa.String(50), nullable=False),
        sa.Column("against_text", sa.Text(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("companies", sa.Integer(), nullable=False),
        sa.Column("keep_unchanged", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("job_id", name="uq_impact_run_job_id"),
    )
    op.create_table(
        "impact_chunk",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("impact_run.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("first_company_id", sa.Integer(), nullable=False),
        sa.Column("last_company_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("claim", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("partial", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("run_id", "number", name="uq_impact_chunk"),
    )
    op.create_index("ix_impact_chunk_run_id", "impact_chunk", ["run_id"])
    op.create_table(
        "impact_row",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("impact_run.id"), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("changed", sa.Boolean(), nullable=False),
        sa.Column("row", sa.JSON(), nullable=False),
    )
    op.create_index("ix_impact_row_order", "impact_row", ["run_id", "label", "company_id"])


def downgrade() -> None:
    op.drop_index("ix_impact_row_order", table_name="impact_row")
    op.drop_table("impact_row")
    op.drop_index("ix_impact_chunk_run_id", table_name="impact_chunk")
    op.drop_table("impact_chunk")
    op.drop_table("impact_run")
