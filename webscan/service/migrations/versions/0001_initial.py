"""Initial schema: reports, per-site aggregates, reporters by network, audits.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(300), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("reporter", sa.String(64), nullable=False),
        sa.Column("network", sa.String(64), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("local_verdict", sa.String(16), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )
    op.create_index("ix_reports_origin", "reports", ["origin"])
    op.create_index("ix_reports_domain", "reports", ["domain"])
    op.create_table(
        "scopes",
        sa.Column("key", sa.String(310), primary_key=True),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("evidence", sa.Text()),
        sa.Column("last_audit_id", sa.String(32)),
        sa.Column("miner_audit_id", sa.String(32)),
    )
    op.create_table(
        "scope_reporters",
        sa.Column("scope_key", sa.String(310), primary_key=True),
        sa.Column("network", sa.String(64), primary_key=True),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("last_miner_at", sa.Float()),
        sa.Column("last_flag_at", sa.Float()),
    )
    op.create_table(
        "audits",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(300), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float()),
        sa.Column("finished_at", sa.Float()),
        sa.Column("verdict", sa.String(16)),
        sa.Column("error", sa.Text()),
        sa.Column("report", sa.Text()),
        sa.Column("evidence", sa.Text()),
        sa.Column("network", sa.String(64), nullable=False),
    )
    op.create_index("ix_audits_status", "audits", ["status", "requested_at"])


def downgrade() -> None:
    op.drop_table("audits")
    op.drop_table("scope_reporters")
    op.drop_table("scopes")
    op.drop_table("reports")
