"""billing: which usage events a usage charge bills

Revision ID: billing_0015_usage_charges
Revises: cooperative_0014_patronage
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "billing_0015_usage_charges"
down_revision = "cooperative_0014_patronage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_charge_usage_events",
        sa.Column("pending_charge_id", sa.Uuid(), nullable=False),
        sa.Column("usage_event_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pending_charge_id"],
            ["billing.pending_charges.id"],
            name=op.f("fk_pending_charge_usage_events_pending_charge_id_pending_charges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "pending_charge_id", "usage_event_id", name=op.f("pk_pending_charge_usage_events")
        ),
        schema="billing",
    )


def downgrade() -> None:
    op.drop_table("pending_charge_usage_events", schema="billing")
