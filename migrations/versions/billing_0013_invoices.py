"""billing: invoices, their lines, pending charges, gapless numbering

Revision ID: billing_0013_invoices
Revises: billing_0012_subscriptions
Create Date: 2026-11-22

A finalized invoice's amounts, number and period never change (trigger); its lines are
append-only. Numbers come from `invoice_number_sequences`, taken under a row lock by the
finalizing transaction, so they are gapless.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from platform_core.persistence.migration_helpers import add_updated_at_trigger

revision = "billing_0013_invoices"
down_revision = "billing_0012_subscriptions"
branch_labels = None
depends_on = None


IMMUTABLE = (
    """CREATE FUNCTION billing.guard_final_invoice() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.finalized_at IS NOT NULL THEN
      RAISE EXCEPTION 'a finalized invoice is never deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.finalized_at IS NOT NULL AND (
       NEW.number, NEW.currency, NEW.account_id, NEW.subscription_id, NEW.period_start, NEW.period_end,
       NEW.subtotal, NEW.discount_total, NEW.credit_applied, NEW.total, NEW.amount_due, NEW.finalized_at
     ) IS DISTINCT FROM (
       OLD.number, OLD.currency, OLD.account_id, OLD.subscription_id, OLD.period_start, OLD.period_end,
       OLD.subtotal, OLD.discount_total, OLD.credit_applied, OLD.total, OLD.amount_due, OLD.finalized_at
     ) THEN
    RAISE EXCEPTION 'a finalized invoice is immutable; issue a new document' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$""",
    """CREATE TRIGGER trg_invoices_final BEFORE UPDATE OR DELETE ON billing.invoices
  FOR EACH ROW EXECUTE FUNCTION billing.guard_final_invoice()""",
    """CREATE FUNCTION billing.reject_line_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'billing.invoice_line_items is append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$""",
    """CREATE TRIGGER trg_invoice_line_items_append_only BEFORE UPDATE OR DELETE ON billing.invoice_line_items
  FOR EACH ROW EXECUTE FUNCTION billing.reject_line_edit()""",
    "INSERT INTO billing.invoice_number_sequences (issuer, prefix, next_number) VALUES ('keel', 'KEEL-', 1)",
)


def upgrade() -> None:
    op.create_table(
        "invoice_number_sequences",
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("next_number", sa.BigInteger(), server_default="1", nullable=False),
        sa.CheckConstraint("next_number >= 1", name=op.f("ck_invoice_number_sequences_next_number")),
        sa.PrimaryKeyConstraint("issuer", name=op.f("pk_invoice_number_sequences")),
        schema="billing",
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=True),
        sa.Column("number", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("subtotal", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("discount_total", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("credit_applied", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("amount_due", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("amount_paid", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("due_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finalized_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(status = 'draft') = (finalized_at IS NULL)", name=op.f("ck_invoices_finalized_when_final")
        ),
        sa.CheckConstraint(
            "(status = 'draft') = (number IS NULL)", name=op.f("ck_invoices_numbered_when_final")
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_invoices_currency")),
        sa.CheckConstraint(
            "status IN ('draft', 'open', 'paid', 'uncollectible', 'void')", name=op.f("ck_invoices_status")
        ),
        sa.CheckConstraint(
            "amount_due = total - credit_applied AND amount_due >= 0", name=op.f("ck_invoices_amount_due")
        ),
        sa.CheckConstraint(
            "amount_paid >= 0 AND amount_paid <= amount_due", name=op.f("ck_invoices_amount_paid")
        ),
        sa.CheckConstraint("total = subtotal - discount_total", name=op.f("ck_invoices_total")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["billing.billing_accounts.id"],
            name=op.f("fk_invoices_account_id_billing_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_invoices_org_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["billing.subscriptions.id"],
            name=op.f("fk_invoices_subscription_id_subscriptions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
        schema="billing",
    )
    op.create_index("ix_invoices_org_id_id", "invoices", ["org_id", "id"], unique=False, schema="billing")
    op.create_table(
        "invoice_line_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("unit_amount", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("discount_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "source IN ('subscription_item', 'pending_charge', 'proration', 'purchase')",
            name=op.f("ck_invoice_line_items_source"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["billing.invoices.id"],
            name=op.f("fk_invoice_line_items_invoice_id_invoices"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_line_items")),
        schema="billing",
    )
    op.create_index(
        op.f("ix_invoice_line_items_invoice_id"),
        "invoice_line_items",
        ["invoice_id"],
        unique=False,
        schema="billing",
    )
    op.create_table(
        "pending_charges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=True),
        sa.Column("subscription_item_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_pending_charges_currency")),
        sa.CheckConstraint(
            "kind IN ('proration', 'credit', 'one_off', 'usage')", name=op.f("ck_pending_charges_kind")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["billing.billing_accounts.id"],
            name=op.f("fk_pending_charges_account_id_billing_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["billing.invoices.id"],
            name=op.f("fk_pending_charges_invoice_id_invoices"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_pending_charges_org_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["billing.subscriptions.id"],
            name=op.f("fk_pending_charges_subscription_id_subscriptions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_charges")),
        schema="billing",
    )
    op.create_index(
        "ix_pending_charges_open",
        "pending_charges",
        ["account_id"],
        unique=False,
        schema="billing",
        postgresql_where=sa.text("invoice_id IS NULL"),
    )
    add_updated_at_trigger("billing", "invoices")
    for statement in IMMUTABLE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER trg_invoice_line_items_append_only ON billing.invoice_line_items")
    op.execute("DROP FUNCTION billing.reject_line_edit()")
    op.execute("DROP TRIGGER trg_invoices_final ON billing.invoices")
    op.execute("DROP FUNCTION billing.guard_final_invoice()")
    op.drop_index(
        "ix_pending_charges_open",
        table_name="pending_charges",
        schema="billing",
        postgresql_where=sa.text("invoice_id IS NULL"),
    )
    op.drop_table("pending_charges", schema="billing")
    op.drop_index(op.f("ix_invoice_line_items_invoice_id"), table_name="invoice_line_items", schema="billing")
    op.drop_table("invoice_line_items", schema="billing")
    op.drop_index("ix_invoices_org_id_id", table_name="invoices", schema="billing")
    op.drop_table("invoices", schema="billing")
    op.drop_table("invoice_number_sequences", schema="billing")
