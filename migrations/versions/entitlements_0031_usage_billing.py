"""entitlements: usage events claimed by the invoice that bills them

Revision ID: entitlements_0031_usage_billing
Revises: entitlements_0030_provision_sources
Create Date: 2026-11-30

A usage event records the pool the ingest attributed it to (`pool_id`: the workspace's pool
when it was accepted; no foreign key, which would cost a key-share lock per inserted event on
the ingest path) and the claim that billed it (`claimed_by`: billing's metered-usage pending
charge). Unclaimed accepted events are found through a partial index; claimed ones by claim.
Existing accepted events are attributed to their workspace's current pool.

Billing side: a usage event is linked to at most one pending charge (unique usage_event_id).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "entitlements_0031_usage_billing"
down_revision = "entitlements_0030_provision_sources"
branch_labels = None
depends_on = None

E = "entitlements"
UNCLAIMED = "status = 'accepted' AND claimed_by IS NULL"


def upgrade() -> None:
    op.add_column("usage_events", sa.Column("pool_id", sa.Uuid()), schema=E)
    op.add_column("usage_events", sa.Column("claimed_by", sa.Uuid()), schema=E)
    op.execute(
        """UPDATE entitlements.usage_events AS e SET pool_id = pa.pool_id
             FROM entitlements.pool_assignments AS pa
            WHERE pa.workspace_id = e.workspace_id AND e.status = 'accepted'"""
    )
    op.create_index(
        op.f("ix_usage_events_unclaimed"),
        "usage_events",
        ["pool_id", "resource_key", "occurred_at"],
        schema=E,
        postgresql_where=sa.text(UNCLAIMED),
    )
    op.create_index(
        op.f("ix_usage_events_claimed_by"),
        "usage_events",
        ["claimed_by"],
        schema=E,
        postgresql_where=sa.text("claimed_by IS NOT NULL"),
    )
    op.create_unique_constraint(
        op.f("uq_pending_charge_usage_events_usage_event_id"),
        "pending_charge_usage_events",
        ["usage_event_id"],
        schema="billing",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("uq_pending_charge_usage_events_usage_event_id"),
        "pending_charge_usage_events",
        schema="billing",
        type_="unique",
    )
    op.drop_index(op.f("ix_usage_events_claimed_by"), "usage_events", schema=E)
    op.drop_index(op.f("ix_usage_events_unclaimed"), "usage_events", schema=E)
    op.drop_column("usage_events", "claimed_by", schema=E)
    op.drop_column("usage_events", "pool_id", schema=E)
