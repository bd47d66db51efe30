"""billing: one-time purchases

Revision ID: billing_0029_purchases
Revises: billing_0028_tax_rates
Create Date: 2026-11-30

A purchase is one `one_time` price x quantity bought by an organization's account: invoiced at
once (`invoice_id`) or carried by the account's next invoice as a pending charge
(`pending_charge_id`), exactly one of the two. Its product's entitlement set is provisioned into
`pool_id` (`provision_id`; entitlements_0030 gives the provision a foreign key back here).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "billing_0029_purchases"
down_revision = "billing_0028_tax_rates"
branch_labels = None
depends_on = None

S = "billing"
NOW = sa.text("now()")


def _fk(column: str, target: str, ondelete: str = "RESTRICT") -> sa.ForeignKeyConstraint:
    referred = target.split(".")[-2]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_purchases_{column}_{referred}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "purchases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("pool_id", sa.Uuid(), nullable=True),
        sa.Column("price_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="completed", nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("pending_charge_id", sa.Uuid(), nullable=True),
        sa.Column("provision_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_purchases_currency")),
        sa.CheckConstraint("status IN ('completed', 'void')", name=op.f("ck_purchases_status")),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_purchases_quantity_positive")),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_purchases_amount")),
        sa.CheckConstraint(
            "(invoice_id IS NULL) <> (pending_charge_id IS NULL)", name=op.f("ck_purchases_billed_once")
        ),
        sa.CheckConstraint(
            "provision_id IS NULL OR pool_id IS NOT NULL", name=op.f("ck_purchases_provisioned_into_pool")
        ),
        sa.CheckConstraint("(status = 'void') = (voided_at IS NOT NULL)", name=op.f("ck_purchases_voided")),
        _fk("org_id", "organization.organizations.id"),
        _fk("account_id", "billing.billing_accounts.id"),
        _fk("pool_id", "entitlements.resource_pools.id"),
        _fk("price_id", "billing.prices.id"),
        _fk("invoice_id", "billing.invoices.id"),
        _fk("pending_charge_id", "billing.pending_charges.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchases")),
        sa.UniqueConstraint("pending_charge_id", name=op.f("uq_purchases_pending_charge_id")),
        schema=S,
    )
    op.create_index("ix_purchases_org_id_id", "purchases", ["org_id", "id"], schema=S)
    op.create_index(op.f("ix_purchases_invoice_id"), "purchases", ["invoice_id"], schema=S)


def downgrade() -> None:
    op.drop_table("purchases", schema=S)
