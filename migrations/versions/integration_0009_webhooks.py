"""integration: webhook endpoints and the outbox of deliveries to them

Revision ID: integration_0009_webhooks
Revises: platform_0008_scheduled_jobs
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from platform_core.persistence.migration_helpers import add_updated_at_trigger

revision = "integration_0009_webhooks"
down_revision = "platform_0008_scheduled_jobs"
branch_labels = None
depends_on = None

ORG_FK = "organization.organizations.id"


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("event_types", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("status", sa.Text(), server_default="enabled", nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text()),
        sa.Column("previous_secret_expires_at", ts),
        sa.Column("created_by", sa.Text()),
        sa.Column("created_at", ts, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", ts, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("status IN ('enabled', 'disabled')", name="ck_webhook_endpoints_status"),
        sa.CheckConstraint(
            "cardinality(event_types) BETWEEN 1 AND 100", name="ck_webhook_endpoints_event_types_count"
        ),
        sa.CheckConstraint("char_length(url) BETWEEN 8 AND 2048", name="ck_webhook_endpoints_url_length"),
        sa.ForeignKeyConstraint(
            ["org_id"], [ORG_FK], name="fk_webhook_endpoints_org_id_organizations", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoints"),
        schema="integration",
    )
    op.create_index("ix_webhook_endpoints_org_id", "webhook_endpoints", ["org_id"], schema="integration")
    add_updated_at_trigger("integration", "webhook_endpoints")

    op.create_table(
        "integration_outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", ts, server_default=sa.text("now()"), nullable=False),
        sa.Column("lease_expires_at", ts),
        sa.Column("claimed_by", sa.Uuid()),
        sa.Column("last_error", sa.Text()),
        sa.Column("last_response_status", sa.Integer()),
        sa.Column("last_attempt_at", ts),
        sa.Column("delivered_at", ts),
        sa.Column("created_at", ts, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed', 'dead')", name="ck_integration_outbox_status"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], [ORG_FK], name="fk_integration_outbox_org_id_organizations", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["integration.webhook_endpoints.id"],
            name="fk_integration_outbox_endpoint_id_webhook_endpoints",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_integration_outbox"),
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_integration_outbox_endpoint_id_event_id"),
        schema="integration",
    )
    op.execute("ALTER TABLE integration.integration_outbox SET (fillfactor = 50)")  # HOT claims
    op.create_index(
        "ix_integration_outbox_due",
        "integration_outbox",
        ["id"],
        schema="integration",
        postgresql_where=sa.text("status IN ('pending', 'failed')"),
    )
    op.create_index(
        "ix_integration_outbox_endpoint_id_id",
        "integration_outbox",
        ["endpoint_id", "id"],
        schema="integration",
    )


def downgrade() -> None:
    op.drop_table("integration_outbox", schema="integration")
    op.drop_table("webhook_endpoints", schema="integration")
