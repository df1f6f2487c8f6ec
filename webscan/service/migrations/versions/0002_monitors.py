"""Monitors (scheduled re-audits with a webhook) and each audit's stage while it runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audits") as batch:
        batch.add_column(sa.Column("stage", sa.String(16)))
    op.create_table(
        "monitors",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(300), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("every_s", sa.Float(), nullable=False),
        sa.Column("webhook", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("next_run_at", sa.Float(), nullable=False),
        sa.Column("pending_audit_id", sa.String(32)),
        sa.Column("last_audit_id", sa.String(32)),
        sa.Column("last_verdict", sa.String(16)),
        sa.Column("last_checked_at", sa.Float()),
        sa.Column("last_error", sa.Text()),
        sa.Column("last_delivery", sa.Text()),
    )
    op.create_index("ix_monitors_due", "monitors", ["paused", "next_run_at"])
    op.create_index("ix_monitors_domain", "monitors", ["domain"])
    op.create_index("ix_audits_domain", "audits", ["domain", "requested_at"])


def downgrade() -> None:
    op.drop_index("ix_audits_domain", table_name="audits")
    op.drop_table("monitors")
    with op.batch_alter_table("audits") as batch:
        batch.drop_column("stage")
