"""billing: trials, on-demand prices and caps set by operators only

Revision ID: billing_0025_self_service_bounds
Revises: organization_0024_freeze_reason
Create Date: 2026-11-30

Products and prices gain the operator's `trial_period_days` (a customer may only shorten it).
Overage that no price could price waits in `unpriced_usage` for an operator to price or waive
it, instead of reaching an invoice at 0.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from platform_core.persistence.migration_helpers import add_updated_at_trigger

revision = "billing_0025_self_service_bounds"
down_revision = "organization_0024_freeze_reason"
branch_labels = None
depends_on = None

S = "billing"
NOW = sa.text("now()")
TRIAL = "trial_period_days IS NULL OR trial_period_days BETWEEN 1 AND 730"


def _fk(column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[-2]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_unpriced_usage_{column}_{referred}"), ondelete="RESTRICT"
    )


def upgrade() -> None:
    for table in ("products", "prices"):
        op.add_column(table, sa.Column("trial_period_days", sa.Integer(), nullable=True), schema=S)
        op.create_check_constraint(op.f(f"ck_{table}_trial_period_days"), table, TRIAL, schema=S)
    op.create_table(
        "unpriced_usage",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("resource_key", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(), nullable=False),
        sa.Column("price_ref", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("usage_event_ids", postgresql.ARRAY(sa.Uuid()), server_default="{}", nullable=False),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column("price_id", sa.Uuid(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("pending_charge_id", sa.Uuid(), nullable=True),
        sa.Column("waive_reason", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("status IN ('open', 'priced', 'waived')", name=op.f("ck_unpriced_usage_status")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_unpriced_usage_quantity_positive")),
        sa.CheckConstraint(
            "(status = 'priced')"
            " = (price_id IS NOT NULL AND amount IS NOT NULL AND pending_charge_id IS NOT NULL)",
            name=op.f("ck_unpriced_usage_priced"),
        ),
        sa.CheckConstraint(
            "(status = 'waived') = (waive_reason IS NOT NULL)", name=op.f("ck_unpriced_usage_waived")
        ),
        sa.CheckConstraint(
            "(status = 'open') = (resolved_at IS NULL)", name=op.f("ck_unpriced_usage_resolved")
        ),
        _fk("org_id", "organization.organizations.id"),
        _fk("account_id", "billing.billing_accounts.id"),
        _fk("price_id", "billing.prices.id"),
        _fk("pending_charge_id", "billing.pending_charges.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unpriced_usage")),
        schema=S,
    )
    op.create_index(
        "ix_unpriced_usage_open",
        "unpriced_usage",
        ["created_at"],
        schema=S,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_unpriced_usage_org_id_id", "unpriced_usage", ["org_id", "id"], schema=S)
    add_updated_at_trigger(S, "unpriced_usage")


def downgrade() -> None:
    op.drop_table("unpriced_usage", schema=S)
    for table in ("prices", "products"):
        op.drop_constraint(op.f(f"ck_{table}_trial_period_days"), table, schema=S, type_="check")
        op.drop_column(table, "trial_period_days", schema=S)
