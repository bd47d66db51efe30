"""billing: collection method, payment attempts, due dates and payment methods

Revision ID: billing_0018_collection
Revises: billing_0017_discounts
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from platform_core.persistence.migration_helpers import add_updated_at_trigger

revision = "billing_0018_collection"
down_revision = "billing_0017_discounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "payment_methods",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("provider_payment_method_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("brand", sa.Text(), nullable=True),
        sa.Column("last4", sa.Text(), nullable=True),
        sa.Column("exp_month", sa.SmallInteger(), nullable=True),
        sa.Column("exp_year", sa.SmallInteger(), nullable=True),
        sa.Column("billing_country", sa.Text(), nullable=True),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("status", sa.Text(), server_default="attached", nullable=False),
        sa.Column("detach_requested_at", ts, nullable=True),
        sa.Column("detached_at", ts, nullable=True),
        sa.Column("created_at", ts, server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", ts, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("provider IN ('stripe', 'manual')", name=op.f("ck_payment_methods_provider")),
        sa.CheckConstraint("status IN ('attached', 'detached')", name=op.f("ck_payment_methods_status")),
        sa.CheckConstraint("last4 IS NULL OR last4 ~ '^[0-9]{4}$'", name=op.f("ck_payment_methods_last4")),
        sa.CheckConstraint(
            "exp_month IS NULL OR exp_month BETWEEN 1 AND 12", name=op.f("ck_payment_methods_exp_month")
        ),
        sa.CheckConstraint(
            "billing_country IS NULL OR billing_country ~ '^[A-Z]{2}$'",
            name=op.f("ck_payment_methods_billing_country"),
        ),
        sa.CheckConstraint(
            "NOT (is_default AND status = 'detached')", name=op.f("ck_payment_methods_default_attached")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_payment_methods_org_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["billing.billing_accounts.id"],
            name=op.f("fk_payment_methods_account_id_billing_accounts"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_methods")),
        sa.UniqueConstraint(
            "provider",
            "provider_payment_method_id",
            name=op.f("uq_payment_methods_provider_provider_payment_method_id"),
        ),
        schema="billing",
    )
    op.create_index("ix_payment_methods_account_id", "payment_methods", ["account_id"], schema="billing")
    op.create_index(
        "uq_payment_methods_one_default",
        "payment_methods",
        ["account_id"],
        unique=True,
        schema="billing",
        postgresql_where=sa.text("is_default"),
    )
    add_updated_at_trigger("billing", "payment_methods")

    op.add_column(
        "billing_accounts",
        sa.Column("collection_method", sa.Text(), server_default="send_invoice", nullable=False),
        schema="billing",
    )
    op.add_column(
        "billing_accounts",
        sa.Column("provider", sa.Text(), server_default="manual", nullable=False),
        schema="billing",
    )
    op.add_column(
        "billing_accounts",
        sa.Column("days_until_due", sa.Integer(), server_default="30", nullable=False),
        schema="billing",
    )
    op.add_column(
        "billing_accounts", sa.Column("default_payment_method_id", sa.Uuid(), nullable=True), schema="billing"
    )
    op.create_check_constraint(
        op.f("ck_billing_accounts_collection_method"),
        "billing_accounts",
        "collection_method IN ('charge_automatically', 'send_invoice')",
        schema="billing",
    )
    op.create_check_constraint(
        op.f("ck_billing_accounts_provider"),
        "billing_accounts",
        "provider IN ('stripe', 'manual')",
        schema="billing",
    )
    op.create_check_constraint(
        op.f("ck_billing_accounts_days_until_due"),
        "billing_accounts",
        "days_until_due BETWEEN 0 AND 365",
        schema="billing",
    )
    op.create_foreign_key(
        op.f("fk_billing_accounts_default_payment_method_id_payment_methods"),
        "billing_accounts",
        "payment_methods",
        ["default_payment_method_id"],
        ["id"],
        source_schema="billing",
        referent_schema="billing",
        ondelete="SET NULL",
    )

    op.add_column(
        "invoices",
        sa.Column("collection_method", sa.Text(), server_default="send_invoice", nullable=False),
        schema="billing",
    )
    op.add_column(
        "invoices",
        sa.Column("attempt_count", sa.Integer(), server_default="0", nullable=False),
        schema="billing",
    )
    op.add_column("invoices", sa.Column("next_payment_attempt", ts, nullable=True), schema="billing")
    op.add_column(
        "invoices",
        sa.Column("last_payment_error", postgresql.JSONB(none_as_null=True), nullable=True),
        schema="billing",
    )
    op.create_check_constraint(
        op.f("ck_invoices_collection_method"),
        "invoices",
        "collection_method IN ('charge_automatically', 'send_invoice')",
        schema="billing",
    )
    op.create_check_constraint(
        op.f("ck_invoices_attempt_count"), "invoices", "attempt_count >= 0", schema="billing"
    )
    op.create_index(
        "ix_invoices_next_payment_attempt",
        "invoices",
        ["next_payment_attempt"],
        schema="billing",
        postgresql_where=sa.text("next_payment_attempt IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_invoices_next_payment_attempt", table_name="invoices", schema="billing")
    for column in ("last_payment_error", "next_payment_attempt", "attempt_count", "collection_method"):
        op.drop_column("invoices", column, schema="billing")
    for column in ("default_payment_method_id", "days_until_due", "provider", "collection_method"):
        op.drop_column("billing_accounts", column, schema="billing")
    op.drop_table("payment_methods", schema="billing")
