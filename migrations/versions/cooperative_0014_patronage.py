"""cooperative: patrons and patronage events

Revision ID: cooperative_0014_patronage
Revises: billing_0013_invoices
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from platform_core.persistence.migration_helpers import add_updated_at_trigger

revision = "cooperative_0014_patronage"
down_revision = "billing_0013_invoices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patrons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_number", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('active', 'inactive')", name=op.f("ck_patrons_status")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["billing.billing_accounts.id"],
            name=op.f("fk_patrons_account_id_billing_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_patrons_org_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrons")),
        sa.UniqueConstraint("account_id", name=op.f("uq_patrons_account_id")),
        sa.UniqueConstraint("member_number", name=op.f("uq_patrons_member_number")),
        sa.UniqueConstraint("org_id", name=op.f("uq_patrons_org_id")),
        schema="cooperative",
    )
    op.create_table(
        "patronage_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patron_id", sa.Uuid(), nullable=False),
        sa.Column("source_type", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_patronage_events_currency")),
        sa.CheckConstraint(
            "source_type IN ('invoice_paid', 'refund')", name=op.f("ck_patronage_events_source_type")
        ),
        sa.ForeignKeyConstraint(
            ["patron_id"],
            ["cooperative.patrons.id"],
            name=op.f("fk_patronage_events_patron_id_patrons"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patronage_events")),
        sa.UniqueConstraint(
            "source_type", "source_id", name=op.f("uq_patronage_events_source_type_source_id")
        ),
        schema="cooperative",
    )
    op.create_index(
        "ix_patronage_events_fiscal_year_currency",
        "patronage_events",
        ["fiscal_year", "currency"],
        unique=False,
        schema="cooperative",
    )
    op.create_index(
        op.f("ix_patronage_events_patron_id"),
        "patronage_events",
        ["patron_id"],
        unique=False,
        schema="cooperative",
    )
    add_updated_at_trigger("cooperative", "patrons")


def downgrade() -> None:
    op.drop_index(op.f("ix_patronage_events_patron_id"), table_name="patronage_events", schema="cooperative")
    op.drop_index(
        "ix_patronage_events_fiscal_year_currency", table_name="patronage_events", schema="cooperative"
    )
    op.drop_table("patronage_events", schema="cooperative")
    op.drop_table("patrons", schema="cooperative")
