"""entitlements: provisions suspended for non-payment

Revision ID: entitlements_0023_suspensions
Revises: billing_0022_dunning
Create Date: 2026-11-30

A pool is suspended (all its provisions stop counting for checks and usage, without being
ended or re-materialized) while it has a suspension whose `resumed_at` is NULL; at most one
such row per pool (partial unique index, which the check's join also uses). Rows are kept
after resuming, as the pool's suspension history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from platform_core.persistence.migration_helpers import add_updated_at_trigger

revision = "entitlements_0023_suspensions"
down_revision = "billing_0022_dunning"
branch_labels = None
depends_on = None

S = "entitlements"
NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "pool_suspensions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("pool_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("reason IN ('nonpayment')", name=op.f("ck_pool_suspensions_reason")),
        sa.CheckConstraint(
            "resumed_at IS NULL OR resumed_at >= suspended_at", name=op.f("ck_pool_suspensions_window")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_pool_suspensions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["entitlements.resource_pools.id"],
            name=op.f("fk_pool_suspensions_pool_id_resource_pools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pool_suspensions")),
        schema=S,
    )
    op.create_index(
        "uq_pool_suspensions_active",
        "pool_suspensions",
        ["pool_id"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("resumed_at IS NULL"),
    )
    op.create_index(op.f("ix_pool_suspensions_org_id"), "pool_suspensions", ["org_id"], schema=S)
    add_updated_at_trigger(S, "pool_suspensions")


def downgrade() -> None:
    op.drop_table("pool_suspensions", schema=S)
