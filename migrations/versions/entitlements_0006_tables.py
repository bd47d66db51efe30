"""entitlements: catalog, pools, provisions, materialized entitlements, usage

Revision ID: entitlements_0006_tables
Revises: identity_0005_users_holds_merges
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from platform_core.persistence.migration_helpers import add_updated_at_trigger

revision = "entitlements_0006_tables"
down_revision = "identity_0005_users_holds_merges"
branch_labels = None
depends_on = None

TIMESTAMPED = (
    "resource_keys",
    "entitlement_sets",
    "resource_pools",
    "pool_assignments",
    "pool_ondemand_config",
    "grants",
    "pool_provisions",
    "boolean_entitlements",
    "numeric_entitlements",
    "numeric_entitlement_contributions",
    "numeric_entitlement_usage",
)


def upgrade() -> None:
    op.create_table(
        "entitlement_sets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("key ~ '^[a-z][a-z0-9_.:-]{0,99}$'", name=op.f("ck_entitlement_sets_key_format")),
        sa.CheckConstraint(
            "char_length(name) BETWEEN 1 AND 200", name=op.f("ck_entitlement_sets_name_length")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_entitlement_sets_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entitlement_sets")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_entitlement_sets_key_version")),
        schema="entitlements",
    )
    op.create_table(
        "resource_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("aggregation", sa.Text(), nullable=True),
        sa.Column("default_value", postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(kind = 'config') = (default_value IS NOT NULL)", name=op.f("ck_resource_keys_config_has_value")
        ),
        sa.CheckConstraint(
            "(kind = 'numeric') = (aggregation IS NOT NULL)",
            name=op.f("ck_resource_keys_numeric_has_aggregation"),
        ),
        sa.CheckConstraint(
            "aggregation IS NULL OR aggregation IN ('SUM', 'COUNT', 'AVERAGE', 'MAX', 'MIN', 'LATEST')",
            name=op.f("ck_resource_keys_aggregation"),
        ),
        sa.CheckConstraint("key ~ '^[a-z][a-z0-9_.:-]{0,99}$'", name=op.f("ck_resource_keys_key_format")),
        sa.CheckConstraint("kind IN ('boolean', 'numeric', 'config')", name=op.f("ck_resource_keys_kind")),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 200", name=op.f("ck_resource_keys_name_length")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_keys")),
        sa.UniqueConstraint("key", name=op.f("uq_resource_keys_key")),
        schema="entitlements",
    )
    op.create_table(
        "entitlement_set_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("set_id", sa.Uuid(), nullable=False),
        sa.Column("resource_key_id", sa.Uuid(), nullable=False),
        sa.Column("rule_type", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=True),
        sa.Column("value", postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), nullable=True),
        sa.Column("reset_period", sa.Text(), server_default="none", nullable=False),
        sa.Column("enforcement", sa.Text(), server_default="hard", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(rule_type = 'boolean') = (amount IS NULL)",
            name=op.f("ck_entitlement_set_rules_numeric_has_amount"),
        ),
        sa.CheckConstraint(
            "(rule_type = 'quota') = (reset_period <> 'none')",
            name=op.f("ck_entitlement_set_rules_quota_resets"),
        ),
        sa.CheckConstraint(
            "enforcement IN ('hard', 'soft')", name=op.f("ck_entitlement_set_rules_enforcement")
        ),
        sa.CheckConstraint(
            "reset_period IN ('none', 'day', 'week', 'month', 'year', 'billing_period')",
            name=op.f("ck_entitlement_set_rules_reset_period"),
        ),
        sa.CheckConstraint(
            "rule_type = 'boolean' OR value IS NULL", name=op.f("ck_entitlement_set_rules_value_only_boolean")
        ),
        sa.CheckConstraint(
            "rule_type IN ('boolean', 'limit', 'quota', 'credit')",
            name=op.f("ck_entitlement_set_rules_rule_type"),
        ),
        sa.CheckConstraint(
            "amount IS NULL OR amount >= 0", name=op.f("ck_entitlement_set_rules_amount_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["resource_key_id"],
            ["entitlements.resource_keys.id"],
            name=op.f("fk_entitlement_set_rules_resource_key_id_resource_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["entitlements.entitlement_sets.id"],
            name=op.f("fk_entitlement_set_rules_set_id_entitlement_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entitlement_set_rules")),
        sa.UniqueConstraint(
            "set_id", "resource_key_id", name=op.f("uq_entitlement_set_rules_set_id_resource_key_id")
        ),
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_entitlement_set_rules_resource_key_id"),
        "entitlement_set_rules",
        ["resource_key_id"],
        unique=False,
        schema="entitlements",
    )
    op.create_table(
        "resource_pools",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 200", name=op.f("ck_resource_pools_name_length")),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_resource_pools_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_pools")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_resource_pools_org_id_name")),
        schema="entitlements",
    )
    op.create_table(
        "boolean_entitlements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("pool_id", sa.Uuid(), nullable=False),
        sa.Column("resource_key_id", sa.Uuid(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("value", postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), nullable=True),
        sa.Column("next_change_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("schedule", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_boolean_entitlements_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["entitlements.resource_pools.id"],
            name=op.f("fk_boolean_entitlements_pool_id_resource_pools"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resource_key_id"],
            ["entitlements.resource_keys.id"],
            name=op.f("fk_boolean_entitlements_resource_key_id_resource_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boolean_entitlements")),
        sa.UniqueConstraint(
            "pool_id", "resource_key_id", name=op.f("uq_boolean_entitlements_pool_id_resource_key_id")
        ),
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_boolean_entitlements_next_change_at"),
        "boolean_entitlements",
        ["next_change_at"],
        unique=False,
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_boolean_entitlements_org_id"),
        "boolean_entitlements",
        ["org_id"],
        unique=False,
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_boolean_entitlements_resource_key_id"),
        "boolean_entitlements",
        ["resource_key_id"],
        unique=False,
        schema="entitlements",
    )
    op.create_table(
        "grants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("pool_id", sa.Uuid(), nullable=False),
        sa.Column("entitlement_set_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Numeric(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_by", sa.Text(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Text(), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("char_length(reason) BETWEEN 1 AND 1000", name=op.f("ck_grants_reason_length")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_grants_window")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_grants_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["entitlement_set_id"],
            ["entitlements.entitlement_sets.id"],
            name=op.f("fk_grants_entitlement_set_id_entitlement_sets"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_grants_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["entitlements.resource_pools.id"],
            name=op.f("fk_grants_pool_id_resource_pools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_grants_entitlement_set_id"),
        "grants",
        ["entitlement_set_id"],
        unique=False,
        schema="entitlements",
    )
    op.create_index(op.f("ix_grants_org_id"), "grants", ["org_id"], unique=False, schema="entitlements")
    op.create_index(op.f("ix_grants_pool_id"), "grants", ["pool_id"], unique=False, schema="entitlements")
    op.create_table(
        "numeric_entitlements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("pool_id", sa.Uuid(), nullable=False),
        sa.Column("resource_key_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("aggregation", sa.Text(), nullable=False),
        sa.Column("reset_period", sa.Text(), nullable=False),
        sa.Column("enforcement", sa.Text(), nullable=False),
        sa.Column("cycle_anchor", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cycle_interval", sa.Text(), nullable=True),
        sa.Column("cycle_interval_count", sa.Integer(), nullable=True),
        sa.Column("limit_amount", sa.Numeric(), server_default="0", nullable=False),
        sa.Column("next_change_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("schedule", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "aggregation IN ('SUM', 'COUNT', 'AVERAGE', 'MAX', 'MIN', 'LATEST')",
            name=op.f("ck_numeric_entitlements_aggregation"),
        ),
        sa.CheckConstraint(
            "cycle_interval IS NULL OR cycle_interval IN ('day', 'week', 'month', 'year')",
            name=op.f("ck_numeric_entitlements_cycle_interval"),
        ),
        sa.CheckConstraint(
            "enforcement IN ('hard', 'soft')", name=op.f("ck_numeric_entitlements_enforcement")
        ),
        sa.CheckConstraint("kind IN ('limit', 'quota', 'credit')", name=op.f("ck_numeric_entitlements_kind")),
        sa.CheckConstraint(
            "reset_period <> 'billing_period' OR cycle_anchor IS NOT NULL",
            name=op.f("ck_numeric_entitlements_billing_period_has_cycle"),
        ),
        sa.CheckConstraint(
            "reset_period IN ('none', 'day', 'week', 'month', 'year', 'billing_period')",
            name=op.f("ck_numeric_entitlements_reset_period"),
        ),
        sa.CheckConstraint("limit_amount >= 0", name=op.f("ck_numeric_entitlements_limit_not_negative")),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_numeric_entitlements_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["entitlements.resource_pools.id"],
            name=op.f("fk_numeric_entitlements_pool_id_resource_pools"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resource_key_id"],
            ["entitlements.resource_keys.id"],
            name=op.f("fk_numeric_entitlements_resource_key_id_resource_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_numeric_entitlements")),
        sa.UniqueConstraint(
            "pool_id", "resource_key_id", name=op.f("uq_numeric_entitlements_pool_id_resource_key_id")
        ),
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_numeric_entitlements_next_change_at"),
        "numeric_entitlements",
        ["next_change_at"],
        unique=False,
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_numeric_entitlements_org_id"),
        "numeric_entitlements",
        ["org_id"],
        unique=False,
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_numeric_entitlements_resource_key_id"),
        "numeric_entitlements",
        ["resource_key_id"],
        unique=False,
        schema="entitlements",
    )
    op.create_table(
        "pool_assignments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("pool_id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_pool_assignments_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["entitlements.resource_pools.id"],
            name=op.f("fk_pool_assignments_pool_id_resource_pools"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["organization.workspaces.id"],
            name=op.f("fk_pool_assignments_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pool_assignments")),
        sa.UniqueConstraint("workspace_id", name=op.f("uq_pool_assignments_workspace_id")),
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_pool_assignments_org_id"),
        "pool_assignments",
        ["org_id"],
        unique=False,
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_pool_assignments_pool_id"),
        "pool_assignments",
        ["pool_id"],
        unique=False,
        schema="entitlements",
    )
    op.create_table(
        "pool_ondemand_config",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("pool_id", sa.Uuid(), nullable=False),
        sa.Column("resource_key_id", sa.Uuid(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("price_ref", sa.Text(), nullable=True),
        sa.Column("cap", sa.Numeric(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("cap IS NULL OR cap >= 0", name=op.f("ck_pool_ondemand_config_cap_not_negative")),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_pool_ondemand_config_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["entitlements.resource_pools.id"],
            name=op.f("fk_pool_ondemand_config_pool_id_resource_pools"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resource_key_id"],
            ["entitlements.resource_keys.id"],
            name=op.f("fk_pool_ondemand_config_resource_key_id_resource_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pool_ondemand_config")),
        sa.UniqueConstraint(
            "pool_id", "resource_key_id", name=op.f("uq_pool_ondemand_config_pool_id_resource_key_id")
        ),
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_pool_ondemand_config_org_id"),
        "pool_ondemand_config",
        ["org_id"],
        unique=False,
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_pool_ondemand_config_resource_key_id"),
        "pool_ondemand_config",
        ["resource_key_id"],
        unique=False,
        schema="entitlements",
    )
    op.create_table(
        "usage_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=True),
        sa.Column("resource_key", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("overage", sa.Numeric(), nullable=True),
        sa.Column("properties", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.CheckConstraint(
            "(status = 'rejected') = (reason IS NOT NULL)", name=op.f("ck_usage_events_rejected_has_reason")
        ),
        sa.CheckConstraint("status IN ('accepted', 'rejected')", name=op.f("ck_usage_events_status")),
        sa.CheckConstraint(
            "char_length(event_id) BETWEEN 1 AND 200", name=op.f("ck_usage_events_event_id_length")
        ),
        sa.CheckConstraint("overage IS NULL OR overage > 0", name=op.f("ck_usage_events_overage_positive")),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_usage_events_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["organization.workspaces.id"],
            name=op.f("fk_usage_events_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_events")),
        sa.UniqueConstraint("org_id", "event_id", name=op.f("uq_usage_events_org_id_event_id")),
        schema="entitlements",
    )
    op.create_index(
        "ix_usage_events_org_id_id", "usage_events", ["org_id", "id"], unique=False, schema="entitlements"
    )
    op.create_index(
        "ix_usage_events_workspace_id_id",
        "usage_events",
        ["workspace_id", "id"],
        unique=False,
        schema="entitlements",
    )
    op.create_table(
        "numeric_entitlement_usage",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("numeric_entitlement_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used", sa.Numeric(), server_default="0", nullable=False),
        sa.Column("sum_quantity", sa.Numeric(), server_default="0", nullable=False),
        sa.Column("event_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overage", sa.Numeric(), server_default="0", nullable=False),
        sa.Column("billed_overage", sa.Numeric(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "billed_overage <= overage", name=op.f("ck_numeric_entitlement_usage_billed_within_overage")
        ),
        sa.CheckConstraint(
            "event_count >= 0", name=op.f("ck_numeric_entitlement_usage_event_count_not_negative")
        ),
        sa.CheckConstraint(
            "overage >= 0 AND billed_overage >= 0",
            name=op.f("ck_numeric_entitlement_usage_overage_not_negative"),
        ),
        sa.CheckConstraint(
            "period_end IS NULL OR period_end > period_start",
            name=op.f("ck_numeric_entitlement_usage_period"),
        ),
        sa.ForeignKeyConstraint(
            ["numeric_entitlement_id"],
            ["entitlements.numeric_entitlements.id"],
            name=op.f("fk_numeric_entitlement_usage_numeric_entitlement_id_numeric_entitlements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_numeric_entitlement_usage_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_numeric_entitlement_usage")),
        sa.UniqueConstraint(
            "numeric_entitlement_id",
            "period_start",
            name=op.f("uq_numeric_entitlement_usage_numeric_entitlement_id_period_start"),
        ),
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_numeric_entitlement_usage_org_id"),
        "numeric_entitlement_usage",
        ["org_id"],
        unique=False,
        schema="entitlements",
    )
    op.create_table(
        "pool_provisions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("pool_id", sa.Uuid(), nullable=False),
        sa.Column("source_type", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=True),
        sa.Column("entitlement_set_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Numeric(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cycle_anchor", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cycle_interval", sa.Text(), nullable=True),
        sa.Column("cycle_interval_count", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(source_type = 'grant') = (grant_id IS NOT NULL)", name=op.f("ck_pool_provisions_grant_source")
        ),
        sa.CheckConstraint(
            "(status = 'active') = (ended_at IS NULL)", name=op.f("ck_pool_provisions_ended_at_status")
        ),
        sa.CheckConstraint(
            "cycle_interval IS NULL OR cycle_interval IN ('day', 'week', 'month', 'year')",
            name=op.f("ck_pool_provisions_cycle_interval"),
        ),
        sa.CheckConstraint(
            "source_type IN ('subscription', 'purchase', 'grant')",
            name=op.f("ck_pool_provisions_source_type"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'ended', 'revoked')", name=op.f("ck_pool_provisions_status")
        ),
        sa.CheckConstraint(
            "(cycle_anchor IS NULL) = (cycle_interval IS NULL) AND (cycle_interval IS NULL) = (cycle_interval_count IS NULL)",
            name=op.f("ck_pool_provisions_cycle_complete"),
        ),
        sa.CheckConstraint(
            "cycle_interval_count IS NULL OR cycle_interval_count >= 1",
            name=op.f("ck_pool_provisions_cycle_count"),
        ),
        sa.CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name=op.f("ck_pool_provisions_window")),
        sa.CheckConstraint(
            "grant_id IS NULL OR grant_id = source_id", name=op.f("ck_pool_provisions_grant_is_source")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_pool_provisions_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["entitlement_set_id"],
            ["entitlements.entitlement_sets.id"],
            name=op.f("fk_pool_provisions_entitlement_set_id_entitlement_sets"),
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["entitlements.grants.id"],
            name=op.f("fk_pool_provisions_grant_id_grants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_pool_provisions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["entitlements.resource_pools.id"],
            name=op.f("fk_pool_provisions_pool_id_resource_pools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pool_provisions")),
        sa.UniqueConstraint(
            "source_type", "source_id", name=op.f("uq_pool_provisions_source_type_source_id")
        ),
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_pool_provisions_entitlement_set_id"),
        "pool_provisions",
        ["entitlement_set_id"],
        unique=False,
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_pool_provisions_grant_id"),
        "pool_provisions",
        ["grant_id"],
        unique=False,
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_pool_provisions_org_id"), "pool_provisions", ["org_id"], unique=False, schema="entitlements"
    )
    op.create_index(
        "ix_pool_provisions_pool_id_status",
        "pool_provisions",
        ["pool_id", "status"],
        unique=False,
        schema="entitlements",
    )
    op.create_table(
        "numeric_entitlement_contributions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("numeric_entitlement_id", sa.Uuid(), nullable=False),
        sa.Column("provision_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        sa.Column("quantity", sa.Numeric(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "amount >= 0", name=op.f("ck_numeric_entitlement_contributions_amount_not_negative")
        ),
        sa.CheckConstraint(
            "ends_at IS NULL OR ends_at > starts_at", name=op.f("ck_numeric_entitlement_contributions_window")
        ),
        sa.CheckConstraint(
            "quantity > 0", name=op.f("ck_numeric_entitlement_contributions_quantity_positive")
        ),
        sa.ForeignKeyConstraint(
            ["numeric_entitlement_id"],
            ["entitlements.numeric_entitlements.id"],
            name=op.f("fk_numeric_entitlement_contributions_numeric_entitlement_id_numeric_entitlements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_numeric_entitlement_contributions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["provision_id"],
            ["entitlements.pool_provisions.id"],
            name=op.f("fk_numeric_entitlement_contributions_provision_id_pool_provisions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["entitlements.entitlement_set_rules.id"],
            name=op.f("fk_numeric_entitlement_contributions_rule_id_entitlement_set_rules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_numeric_entitlement_contributions")),
        sa.UniqueConstraint(
            "provision_id",
            "numeric_entitlement_id",
            name=op.f("uq_numeric_entitlement_contributions_provision_id_numeric_entitlement_id"),
        ),
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_numeric_entitlement_contributions_numeric_entitlement_id"),
        "numeric_entitlement_contributions",
        ["numeric_entitlement_id"],
        unique=False,
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_numeric_entitlement_contributions_org_id"),
        "numeric_entitlement_contributions",
        ["org_id"],
        unique=False,
        schema="entitlements",
    )
    op.create_index(
        op.f("ix_numeric_entitlement_contributions_rule_id"),
        "numeric_entitlement_contributions",
        ["rule_id"],
        unique=False,
        schema="entitlements",
    )
    for table in TIMESTAMPED:
        add_updated_at_trigger("entitlements", table)


def downgrade() -> None:
    op.drop_index(
        op.f("ix_numeric_entitlement_contributions_rule_id"),
        table_name="numeric_entitlement_contributions",
        schema="entitlements",
    )
    op.drop_index(
        op.f("ix_numeric_entitlement_contributions_org_id"),
        table_name="numeric_entitlement_contributions",
        schema="entitlements",
    )
    op.drop_index(
        op.f("ix_numeric_entitlement_contributions_numeric_entitlement_id"),
        table_name="numeric_entitlement_contributions",
        schema="entitlements",
    )
    op.drop_table("numeric_entitlement_contributions", schema="entitlements")
    op.drop_index("ix_pool_provisions_pool_id_status", table_name="pool_provisions", schema="entitlements")
    op.drop_index(op.f("ix_pool_provisions_org_id"), table_name="pool_provisions", schema="entitlements")
    op.drop_index(op.f("ix_pool_provisions_grant_id"), table_name="pool_provisions", schema="entitlements")
    op.drop_index(
        op.f("ix_pool_provisions_entitlement_set_id"), table_name="pool_provisions", schema="entitlements"
    )
    op.drop_table("pool_provisions", schema="entitlements")
    op.drop_index(
        op.f("ix_numeric_entitlement_usage_org_id"),
        table_name="numeric_entitlement_usage",
        schema="entitlements",
    )
    op.drop_table("numeric_entitlement_usage", schema="entitlements")
    op.drop_index("ix_usage_events_workspace_id_id", table_name="usage_events", schema="entitlements")
    op.drop_index("ix_usage_events_org_id_id", table_name="usage_events", schema="entitlements")
    op.drop_table("usage_events", schema="entitlements")
    op.drop_index(
        op.f("ix_pool_ondemand_config_resource_key_id"),
        table_name="pool_ondemand_config",
        schema="entitlements",
    )
    op.drop_index(
        op.f("ix_pool_ondemand_config_org_id"), table_name="pool_ondemand_config", schema="entitlements"
    )
    op.drop_table("pool_ondemand_config", schema="entitlements")
    op.drop_index(op.f("ix_pool_assignments_pool_id"), table_name="pool_assignments", schema="entitlements")
    op.drop_index(op.f("ix_pool_assignments_org_id"), table_name="pool_assignments", schema="entitlements")
    op.drop_table("pool_assignments", schema="entitlements")
    op.drop_index(
        op.f("ix_numeric_entitlements_resource_key_id"),
        table_name="numeric_entitlements",
        schema="entitlements",
    )
    op.drop_index(
        op.f("ix_numeric_entitlements_org_id"), table_name="numeric_entitlements", schema="entitlements"
    )
    op.drop_index(
        op.f("ix_numeric_entitlements_next_change_at"),
        table_name="numeric_entitlements",
        schema="entitlements",
    )
    op.drop_table("numeric_entitlements", schema="entitlements")
    op.drop_index(op.f("ix_grants_pool_id"), table_name="grants", schema="entitlements")
    op.drop_index(op.f("ix_grants_org_id"), table_name="grants", schema="entitlements")
    op.drop_index(op.f("ix_grants_entitlement_set_id"), table_name="grants", schema="entitlements")
    op.drop_table("grants", schema="entitlements")
    op.drop_index(
        op.f("ix_boolean_entitlements_resource_key_id"),
        table_name="boolean_entitlements",
        schema="entitlements",
    )
    op.drop_index(
        op.f("ix_boolean_entitlements_org_id"), table_name="boolean_entitlements", schema="entitlements"
    )
    op.drop_index(
        op.f("ix_boolean_entitlements_next_change_at"),
        table_name="boolean_entitlements",
        schema="entitlements",
    )
    op.drop_table("boolean_entitlements", schema="entitlements")
    op.drop_table("resource_pools", schema="entitlements")
    op.drop_index(
        op.f("ix_entitlement_set_rules_resource_key_id"),
        table_name="entitlement_set_rules",
        schema="entitlements",
    )
    op.drop_table("entitlement_set_rules", schema="entitlements")
    op.drop_table("resource_keys", schema="entitlements")
    op.drop_table("entitlement_sets", schema="entitlements")
