"""billing: accounts, catalog, subscriptions and their change trail

Revision ID: billing_0012_subscriptions
Revises: integration_0011_webhook_events
Create Date: 2026-11-22

subscription_changes is append-only: a trigger rejects UPDATE and DELETE.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from platform_core.persistence.migration_helpers import add_updated_at_trigger

revision = "billing_0012_subscriptions"
down_revision = "integration_0011_webhook_events"
branch_labels = None
depends_on = None


APPEND_ONLY = (
    """CREATE FUNCTION billing.reject_change_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'billing.subscription_changes is append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$""",
    """CREATE TRIGGER trg_subscription_changes_append_only BEFORE UPDATE OR DELETE
  ON billing.subscription_changes FOR EACH ROW EXECUTE FUNCTION billing.reject_change_edit()""",
)


def upgrade() -> None:
    op.create_table(
        "billing_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("address", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "tax_ids",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("provider_customer_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_billing_accounts_currency")),
        sa.CheckConstraint("status IN ('active', 'closed')", name=op.f("ck_billing_accounts_status")),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_billing_accounts_org_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_accounts")),
        sa.UniqueConstraint("org_id", name=op.f("uq_billing_accounts_org_id")),
        sa.UniqueConstraint("provider_customer_id", name=op.f("uq_billing_accounts_provider_customer_id")),
        schema="billing",
    )
    op.create_table(
        "products",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("entitlement_set_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("key ~ '^[a-z][a-z0-9_.-]{0,99}$'", name=op.f("ck_products_key_format")),
        sa.ForeignKeyConstraint(
            ["entitlement_set_id"],
            ["entitlements.entitlement_sets.id"],
            name=op.f("fk_products_entitlement_set_id_entitlement_sets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("key", name=op.f("uq_products_key")),
        schema="billing",
    )
    op.create_table(
        "prices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("lookup_key", sa.Text(), nullable=True),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("unit_amount", sa.BigInteger(), nullable=True),
        sa.Column("interval", sa.Text(), nullable=True),
        sa.Column("interval_count", sa.Integer(), server_default="1", nullable=False),
        sa.Column("usage_type", sa.Text(), server_default="licensed", nullable=False),
        sa.Column("billing_scheme", sa.Text(), server_default="per_unit", nullable=False),
        sa.Column("tiers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("tiers_mode", sa.Text(), nullable=True),
        sa.Column("metered_resource_key", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(billing_scheme = 'per_unit' AND unit_amount IS NOT NULL AND tiers IS NULL AND tiers_mode IS NULL) OR (billing_scheme = 'tiered' AND unit_amount IS NULL AND tiers IS NOT NULL AND tiers_mode IN ('graduated', 'volume'))",
            name=op.f("ck_prices_scheme_shape"),
        ),
        sa.CheckConstraint(
            "(type = 'recurring') = (interval IS NOT NULL)", name=op.f("ck_prices_recurring_has_interval")
        ),
        sa.CheckConstraint(
            "(usage_type = 'metered') = (metered_resource_key IS NOT NULL)",
            name=op.f("ck_prices_metered_key"),
        ),
        sa.CheckConstraint("billing_scheme IN ('per_unit', 'tiered')", name=op.f("ck_prices_billing_scheme")),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_prices_currency")),
        sa.CheckConstraint(
            "interval IS NULL OR interval IN ('day', 'week', 'month', 'year')",
            name=op.f("ck_prices_interval"),
        ),
        sa.CheckConstraint("type IN ('recurring', 'one_time')", name=op.f("ck_prices_type")),
        sa.CheckConstraint(
            "usage_type = 'licensed' OR type = 'recurring'", name=op.f("ck_prices_metered_is_recurring")
        ),
        sa.CheckConstraint("usage_type IN ('licensed', 'metered')", name=op.f("ck_prices_usage_type")),
        sa.CheckConstraint("interval_count BETWEEN 1 AND 365", name=op.f("ck_prices_interval_count")),
        sa.CheckConstraint("unit_amount IS NULL OR unit_amount >= 0", name=op.f("ck_prices_unit_amount")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["billing.products.id"],
            name=op.f("fk_prices_product_id_products"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prices")),
        sa.UniqueConstraint("lookup_key", name=op.f("uq_prices_lookup_key")),
        schema="billing",
    )
    op.create_index(op.f("ix_prices_product_id"), "prices", ["product_id"], unique=False, schema="billing")
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("pool_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("interval", sa.Text(), nullable=False),
        sa.Column("interval_count", sa.Integer(), nullable=False),
        sa.Column("billing_cycle_anchor", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trial_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_subscriptions_currency")),
        sa.CheckConstraint(
            "interval IN ('day', 'week', 'month', 'year')", name=op.f("ck_subscriptions_interval")
        ),
        sa.CheckConstraint(
            "status IN ('incomplete', 'trialing', 'active', 'past_due', 'paused', 'canceled', 'unpaid')",
            name=op.f("ck_subscriptions_status"),
        ),
        sa.CheckConstraint("current_period_end > current_period_start", name=op.f("ck_subscriptions_period")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["billing.billing_accounts.id"],
            name=op.f("fk_subscriptions_account_id_billing_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_subscriptions_org_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["entitlements.resource_pools.id"],
            name=op.f("fk_subscriptions_pool_id_resource_pools"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        schema="billing",
    )
    op.create_index(
        "ix_subscriptions_due",
        "subscriptions",
        ["current_period_end"],
        unique=False,
        schema="billing",
        postgresql_where=sa.text("status IN ('active', 'trialing')"),
    )
    op.create_index(
        op.f("ix_subscriptions_org_id"), "subscriptions", ["org_id"], unique=False, schema="billing"
    )
    op.create_table(
        "subscription_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "proration",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_type", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('created', 'quantity_changed', 'cancel_scheduled', 'cancel_unscheduled', 'canceled', 'renewed', 'trial_ended')",
            name=op.f("ck_subscription_changes_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["billing.subscriptions.id"],
            name=op.f("fk_subscription_changes_subscription_id_subscriptions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_changes")),
        schema="billing",
    )
    op.create_index(
        "ix_subscription_changes_subscription_id_id",
        "subscription_changes",
        ["subscription_id", "id"],
        unique=False,
        schema="billing",
    )
    op.create_table(
        "subscription_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("price_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("provision_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_subscription_items_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["price_id"],
            ["billing.prices.id"],
            name=op.f("fk_subscription_items_price_id_prices"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["billing.subscriptions.id"],
            name=op.f("fk_subscription_items_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_items")),
        sa.UniqueConstraint(
            "subscription_id", "price_id", name=op.f("uq_subscription_items_subscription_id_price_id")
        ),
        schema="billing",
    )
    op.create_index(
        op.f("ix_subscription_items_subscription_id"),
        "subscription_items",
        ["subscription_id"],
        unique=False,
        schema="billing",
    )
    for table in ("billing_accounts", "products", "subscriptions"):
        add_updated_at_trigger("billing", table)
    for statement in APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER trg_subscription_changes_append_only ON billing.subscription_changes")
    op.execute("DROP FUNCTION billing.reject_change_edit()")
    op.drop_index(
        op.f("ix_subscription_items_subscription_id"), table_name="subscription_items", schema="billing"
    )
    op.drop_table("subscription_items", schema="billing")
    op.drop_index(
        "ix_subscription_changes_subscription_id_id", table_name="subscription_changes", schema="billing"
    )
    op.drop_table("subscription_changes", schema="billing")
    op.drop_index(op.f("ix_subscriptions_org_id"), table_name="subscriptions", schema="billing")
    op.drop_index(
        "ix_subscriptions_due",
        table_name="subscriptions",
        schema="billing",
        postgresql_where=sa.text("status IN ('active', 'trialing')"),
    )
    op.drop_table("subscriptions", schema="billing")
    op.drop_index(op.f("ix_prices_product_id"), table_name="prices", schema="billing")
    op.drop_table("prices", schema="billing")
    op.drop_table("products", schema="billing")
    op.drop_table("billing_accounts", schema="billing")
