"""billing: tax rates and tax per invoice line

Revision ID: billing_0028_tax_rates
Revises: billing_0027_credit_grants
Create Date: 2026-11-30

Operators' tax rates (after Stripe's Tax Rates) are immutable except `active`, never deleted,
at most one active per country and state. `invoice_line_taxes` holds each line's tax, written
only while its invoice is a draft, append-only. Invoices gain `tax` (all of it),
`exclusive_tax` (the part added on top) and `reverse_charge`; their total is now subtotal -
discounts + exclusive tax, and the three are immutable once finalized (the guard trigger of
billing_0020_refunds gains them). Credit notes and their lines state the tax share of what they
credit (`tax_amount`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "billing_0028_tax_rates"
down_revision = "billing_0027_credit_grants"
branch_labels = None
depends_on = None

S = "billing"
NOW = sa.text("now()")
_IMMUTABLE_COLUMNS = (
    "NEW.number, NEW.currency, NEW.account_id, NEW.subscription_id, NEW.period_start, NEW.period_end,"
    " NEW.subtotal, NEW.discount_total, NEW.credit_applied, NEW.total, {tax}NEW.finalized_at"
)
_TAX_COLUMNS = "NEW.tax, NEW.exclusive_tax, NEW.reverse_charge, "
CREDIT_NOTE_TABLES = ("credit_notes", "credit_note_lines")


def _guard_final_invoice(tax: str) -> str:
    """billing_0020_refunds' guard, with the tax columns (`tax`) or without them (`""`)."""
    new = _IMMUTABLE_COLUMNS.format(tax=tax)
    old = new.replace("NEW.", "OLD.")
    return f"""CREATE OR REPLACE FUNCTION billing.guard_final_invoice() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.finalized_at IS NOT NULL THEN
      RAISE EXCEPTION 'a finalized invoice is never deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.finalized_at IS NOT NULL AND ({new}) IS DISTINCT FROM ({old}) THEN
    RAISE EXCEPTION 'a finalized invoice is immutable; issue a new document' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$"""


TRIGGERS = (
    """CREATE FUNCTION billing.guard_tax_rate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'a tax rate is never deleted; deactivate it' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF (to_jsonb(NEW) - 'active') IS DISTINCT FROM (to_jsonb(OLD) - 'active') THEN
    RAISE EXCEPTION 'a tax rate is immutable except active; create a new rate' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$""",
    """CREATE TRIGGER trg_tax_rates_immutable BEFORE UPDATE OR DELETE ON billing.tax_rates
  FOR EACH ROW EXECUTE FUNCTION billing.guard_tax_rate()""",
    """CREATE FUNCTION billing.guard_line_tax() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    RAISE EXCEPTION 'billing.invoice_line_taxes is append-only (% refused)', TG_OP
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF EXISTS (SELECT 1 FROM billing.invoices WHERE id = NEW.invoice_id AND finalized_at IS NOT NULL) THEN
    RAISE EXCEPTION 'invoice % is finalized; its taxes never change', NEW.invoice_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM billing.invoice_line_items WHERE id = NEW.line_id AND invoice_id = NEW.invoice_id) THEN
    RAISE EXCEPTION 'line % is not a line of invoice %', NEW.line_id, NEW.invoice_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NEW;
END $$""",
    """CREATE TRIGGER trg_invoice_line_taxes_draft_only BEFORE INSERT OR UPDATE OR DELETE
  ON billing.invoice_line_taxes FOR EACH ROW EXECUTE FUNCTION billing.guard_line_tax()""",
)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[-2]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete="RESTRICT"
    )


def _tax_rates() -> None:
    op.create_table(
        "tax_rates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("percentage", sa.Numeric(6, 4), nullable=False),
        sa.Column("inclusive", sa.Boolean(), nullable=False),
        sa.Column("country", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("char_length(display_name) BETWEEN 1 AND 100", name=op.f("ck_tax_rates_display_name")),
        sa.CheckConstraint("percentage >= 0 AND percentage < 100", name=op.f("ck_tax_rates_percentage")),
        sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name=op.f("ck_tax_rates_country")),
        sa.CheckConstraint("state IS NULL OR state ~ '^[A-Z0-9]{1,3}$'", name=op.f("ck_tax_rates_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_rates")),
        schema=S,
    )  # fmt: skip
    op.create_index(
        op.f("uq_tax_rates_active_jurisdiction"),
        "tax_rates",
        ["country", "state"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("active"),
        postgresql_nulls_not_distinct=True,
    )


def _line_taxes() -> None:
    table = "invoice_line_taxes"
    op.create_table(
        table,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("line_id", sa.Uuid(), nullable=False),
        sa.Column("tax_rate_id", sa.Uuid(), nullable=True),
        sa.Column("taxable_amount", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("inclusive", sa.Boolean(), nullable=False),
        sa.Column("reverse_charge", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "(reverse_charge AND tax_rate_id IS NULL AND amount = 0 AND NOT inclusive)"
            " OR (NOT reverse_charge AND tax_rate_id IS NOT NULL)",
            name=op.f("ck_invoice_line_taxes_rate_or_reverse_charge"),
        ),
        _fk(table, "invoice_id", "billing.invoices.id"),
        _fk(table, "line_id", "billing.invoice_line_items.id"),
        _fk(table, "tax_rate_id", "billing.tax_rates.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_line_taxes")),
        sa.UniqueConstraint("line_id", name=op.f("uq_invoice_line_taxes_line_id")),
        schema=S,
    )
    op.create_index(op.f("ix_invoice_line_taxes_invoice_id"), table, ["invoice_id"], schema=S)


def upgrade() -> None:
    _tax_rates()
    _line_taxes()
    for column in ("tax", "exclusive_tax"):
        op.add_column(
            "invoices", sa.Column(column, sa.BigInteger(), server_default="0", nullable=False), schema=S
        )
    op.add_column(
        "invoices",
        sa.Column("reverse_charge", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        schema=S,
    )
    op.drop_constraint(op.f("ck_invoices_total"), "invoices", schema=S, type_="check")
    op.create_check_constraint(
        op.f("ck_invoices_total"), "invoices", "total = subtotal - discount_total + exclusive_tax", schema=S
    )
    op.create_check_constraint(
        op.f("ck_invoices_reverse_charge"), "invoices", "NOT reverse_charge OR tax = 0", schema=S
    )
    op.execute(_guard_final_invoice(tax=_TAX_COLUMNS))
    for statement in TRIGGERS:
        op.execute(statement)
    for table in CREDIT_NOTE_TABLES:  # the tax share of what a note credits
        op.add_column(
            table, sa.Column("tax_amount", sa.BigInteger(), server_default="0", nullable=False), schema=S
        )


def downgrade() -> None:
    for table in CREDIT_NOTE_TABLES:
        op.drop_column(table, "tax_amount", schema=S)
    op.execute(_guard_final_invoice(tax=""))
    op.drop_constraint(op.f("ck_invoices_reverse_charge"), "invoices", schema=S, type_="check")
    op.drop_constraint(op.f("ck_invoices_total"), "invoices", schema=S, type_="check")
    op.create_check_constraint(
        op.f("ck_invoices_total"), "invoices", "total = subtotal - discount_total", schema=S
    )
    for column in ("reverse_charge", "exclusive_tax", "tax"):
        op.drop_column("invoices", column, schema=S)
    op.drop_table("invoice_line_taxes", schema=S)
    op.execute("DROP FUNCTION billing.guard_line_tax()")
    op.drop_index(op.f("uq_tax_rates_active_jurisdiction"), "tax_rates", schema=S)
    op.drop_table("tax_rates", schema=S)
    op.execute("DROP FUNCTION billing.guard_tax_rate()")
