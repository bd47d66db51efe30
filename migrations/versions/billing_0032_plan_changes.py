"""billing: plan changes, scheduled changes and pauses

Revision ID: billing_0032_plan_changes
Revises: entitlements_0031_usage_billing
Create Date: 2026-11-30

After Stripe's subscription update, subscription schedules and `pause_collection` (ADR 0024):

- a subscription item can be removed (`removed_at`; its row stays, for the provision that
  references it and the trail), so a price is unique among a subscription's *current* items;
- `subscription_scheduled_changes`: item changes that wait for the period's end, at most one
  pending per subscription, applied by the renewal;
- `subscription_pauses`: collection paused with a behavior, at most one in force per
  subscription, automatically resumed at `resumes_at`;
- the trail's new kinds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from platform_core.persistence.migration_helpers import add_updated_at_trigger

revision = "billing_0032_plan_changes"
down_revision = "entitlements_0031_usage_billing"
branch_labels = None
depends_on = None

S = "billing"
NOW = sa.text("now()")
OLD_KINDS = (
    "'created', 'quantity_changed', 'cancel_scheduled', 'cancel_unscheduled', 'canceled', 'renewed',"
    " 'trial_ended', 'past_due', 'unpaid', 'restored'"
)
NEW_KINDS = (
    f"{OLD_KINDS}, 'items_changed', 'change_scheduled', 'change_unscheduled', 'scheduled_change_applied',"
    " 'paused', 'resumed'"
)


def _kinds(kinds: str) -> None:
    op.drop_constraint(op.f("ck_subscription_changes_kind"), "subscription_changes", schema=S, type_="check")
    op.create_check_constraint(
        op.f("ck_subscription_changes_kind"), "subscription_changes", f"kind IN ({kinds})", schema=S
    )


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[-2]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete="RESTRICT"
    )


def upgrade() -> None:
    _kinds(NEW_KINDS)
    op.add_column("subscription_items", sa.Column("removed_at", sa.DateTime(timezone=True)), schema=S)
    op.drop_constraint(
        op.f("uq_subscription_items_subscription_id_price_id"), "subscription_items", schema=S, type_="unique"
    )
    op.create_index(
        "uq_subscription_items_current_price",
        "subscription_items",
        ["subscription_id", "price_id"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("removed_at IS NULL"),
    )
    op.create_table(
        "subscription_scheduled_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("items", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), server_default="scheduled", nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "status IN ('scheduled', 'applied', 'canceled')",
            name=op.f("ck_subscription_scheduled_changes_status"),
        ),
        sa.CheckConstraint(
            "(status = 'applied') = (applied_at IS NOT NULL)",
            name=op.f("ck_subscription_scheduled_changes_applied"),
        ),
        sa.CheckConstraint(
            "(status = 'canceled') = (canceled_at IS NOT NULL)",
            name=op.f("ck_subscription_scheduled_changes_canceled"),
        ),
        _fk("subscription_scheduled_changes", "subscription_id", "billing.subscriptions.id"),
        _fk("subscription_scheduled_changes", "org_id", "organization.organizations.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_scheduled_changes")),
        schema=S,
    )
    op.create_index(
        "uq_subscription_scheduled_changes_pending",
        "subscription_scheduled_changes",
        ["subscription_id"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("status = 'scheduled'"),
    )
    op.create_index(
        "ix_subscription_scheduled_changes_subscription_id_id",
        "subscription_scheduled_changes",
        ["subscription_id", "id"],
        schema=S,
    )
    add_updated_at_trigger(S, "subscription_scheduled_changes")
    op.create_table(
        "subscription_pauses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("behavior", sa.Text(), nullable=False),
        sa.Column("resumes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_by", sa.Text(), nullable=True),
        sa.Column("resumed_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "behavior IN ('keep_as_draft', 'mark_uncollectible', 'void')",
            name=op.f("ck_subscription_pauses_behavior"),
        ),
        sa.CheckConstraint(
            "behavior <> 'keep_as_draft' OR resumes_at IS NOT NULL",
            name=op.f("ck_subscription_pauses_draft_resumes"),
        ),
        sa.CheckConstraint(
            "resumed_at IS NULL OR resumed_at >= paused_at", name=op.f("ck_subscription_pauses_window")
        ),
        _fk("subscription_pauses", "subscription_id", "billing.subscriptions.id"),
        _fk("subscription_pauses", "org_id", "organization.organizations.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_pauses")),
        schema=S,
    )
    op.create_index(
        "uq_subscription_pauses_in_force",
        "subscription_pauses",
        ["subscription_id"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("resumed_at IS NULL"),
    )
    op.create_index(
        "ix_subscription_pauses_resume_due",
        "subscription_pauses",
        ["resumes_at"],
        schema=S,
        postgresql_where=sa.text("resumed_at IS NULL AND resumes_at IS NOT NULL"),
    )
    op.create_index(
        "ix_subscription_pauses_subscription_id_id",
        "subscription_pauses",
        ["subscription_id", "id"],
        schema=S,
    )
    add_updated_at_trigger(S, "subscription_pauses")


def downgrade() -> None:
    op.drop_table("subscription_pauses", schema=S)
    op.drop_table("subscription_scheduled_changes", schema=S)
    op.drop_index("uq_subscription_items_current_price", table_name="subscription_items", schema=S)
    op.create_unique_constraint(
        op.f("uq_subscription_items_subscription_id_price_id"),
        "subscription_items",
        ["subscription_id", "price_id"],
        schema=S,
    )
    op.drop_column("subscription_items", "removed_at", schema=S)
    _kinds(OLD_KINDS)
