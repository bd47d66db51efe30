"""integration: inbound provider webhook events

Revision ID: integration_0011_webhook_events
Revises: audit_0010_retention
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "integration_0011_webhook_events"
down_revision = "audit_0010_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("external_event_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("signature_verified", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Text(), server_default="received", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", ts, server_default=sa.text("now()"), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("received_at", ts, server_default=sa.text("now()"), nullable=False),
        sa.Column("processed_at", ts),
        sa.CheckConstraint(
            "status IN ('received', 'processed', 'failed', 'ignored')", name=op.f("ck_webhook_events_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint(
            "provider", "external_event_id", name=op.f("uq_webhook_events_provider_external_event_id")
        ),
        schema="integration",
    )
    op.create_index(
        op.f("ix_webhook_events_due"),
        "webhook_events",
        ["next_attempt_at"],
        schema="integration",
        postgresql_where=sa.text("status IN ('received', 'failed')"),
    )


def downgrade() -> None:
    op.drop_table("webhook_events", schema="integration")
