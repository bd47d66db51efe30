"""integration: the payment-provider call outbox

Revision ID: integration_0019_provider_calls
Revises: billing_0018_collection
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "integration_0019_provider_calls"
down_revision = "billing_0018_collection"
branch_labels = None
depends_on = None

ACTIONS = "('customer.create', 'payment_intent.create', 'refund.create', 'payment_method.detach')"


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "provider_calls",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("request_key", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", ts, server_default=sa.text("now()"), nullable=False),
        sa.Column("lease_expires_at", ts, nullable=True),
        sa.Column("claimed_by", sa.Uuid(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("answer_type", sa.Text(), nullable=True),
        sa.Column("provider_object_id", sa.Text(), nullable=True),
        sa.Column("delivered_at", ts, nullable=True),
        sa.Column("created_at", ts, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed', 'dead')", name=op.f("ck_provider_calls_status")
        ),
        sa.CheckConstraint(f"action IN {ACTIONS}", name=op.f("ck_provider_calls_action")),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_provider_calls_org_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_calls")),
        sa.UniqueConstraint("provider", "request_key", name=op.f("uq_provider_calls_provider_request_key")),
        schema="integration",
        postgresql_with={"fillfactor": 50},
    )
    op.create_index(
        "ix_provider_calls_due",
        "provider_calls",
        ["id"],
        schema="integration",
        postgresql_where=sa.text("status IN ('pending', 'failed')"),
    )


def downgrade() -> None:
    op.drop_table("provider_calls", schema="integration")
