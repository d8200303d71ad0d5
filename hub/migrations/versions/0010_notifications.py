"""Notifications: the in-app list, the e-mail outbox and the kinds users turned off.

Revision ID: 0010_notifications
Revises: 0009_session_revocation
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_notifications"
down_revision: str | None = "0009_session_revocation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(500), nullable=False),
        sa.Column("company_id", sa.Integer(), sa.ForeignKey("company.id"), nullable=True),
        sa.Column("filing_id", sa.Integer(), sa.ForeignKey("filing.id"), nullable=True),
        sa.Column("warning_id", sa.Integer(), sa.ForeignKey("company_warning.id"), nullable=True),
        sa.Column("dedup_key", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("user_id", "dedup_key", name="uq_notification_dedup"),
    )
    op.create_index("ix_notification_user_read", "notification", ["user_id", "read_at"])
    op.create_table(
        "mail_message",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("notification_id", sa.Integer(), sa.ForeignKey("notification.id"), nullable=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("to_address", sa.String(254), nullable=False),
        sa.Column("from_address", sa.String(300), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_mail_message_status_next", "mail_message", ["status", "next_attempt_at"])
    op.create_table(
        "notification_mute",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.UniqueConstraint("user_id", "kind", name="uq_notification_mute"),
    )
    op.create_index("ix_notification_mute_user_id", "notification_mute", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_notification_mute_user_id", table_name="notification_mute")
    op.drop_table("notification_mute")
    op.drop_index("ix_mail_message_status_next", table_name="mail_message")
    op.drop_table("mail_message")
    op.drop_index("ix_notification_user_read", table_name="notification")
    op.drop_table("notification")
