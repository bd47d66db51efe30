"""billing: invoices start as drafts; lines name their price

Revision ID: billing_0026_invoice_drafts
Revises: billing_0025_self_service_bounds
Create Date: 2026-11-30

A draft waits until `auto_finalize_at` (the finalize job) or an explicit finalize; operators
may add one-off lines to it meanwhile. Lines and pending charges name the price they bill (for
credit grants restricted to prices, and for documents). A line is never added to a finalized
invoice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "billing_0026_invoice_drafts"
down_revision = "billing_0025_self_service_bounds"
branch_labels = None
depends_on = None

S = "billing"
OLD_SOURCES = "('subscription_item', 'pending_charge', 'proration', 'purchase')"
NEW_SOURCES = "('subscription_item', 'pending_charge', 'proration', 'purchase', 'metered_usage', 'one_off')"
OLD_KINDS = "('proration', 'credit', 'one_off', 'usage')"
NEW_KINDS = "('proration', 'credit', 'one_off', 'usage', 'purchase', 'metered_usage')"

FINAL_DUE = (
    "amount_due >= 0 AND amount_due <= total - credit_applied"
    " AND amount_due >= total - credit_applied - amount_credited"
)
# a draft owes nothing yet and its figures move with its lines; it may even be negative until
# finalization carries the surplus credit forward
DRAFT_OR_FINAL_DUE = f"status = 'draft' AND amount_due = 0 OR status <> 'draft' AND {FINAL_DUE}"
FINAL_CREDITED = "amount_credited BETWEEN 0 AND total"
DRAFT_OR_FINAL_CREDITED = "amount_credited >= 0 AND (status = 'draft' OR amount_credited <= total)"

GUARD_LINE_INSERT = (
    """CREATE FUNCTION billing.reject_line_on_final_invoice() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM billing.invoices WHERE id = NEW.invoice_id AND finalized_at IS NOT NULL) THEN
    RAISE EXCEPTION 'invoice % is finalized; its lines never change', NEW.invoice_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$""",
    """CREATE TRIGGER trg_invoice_line_items_draft_only BEFORE INSERT ON billing.invoice_line_items
  FOR EACH ROW EXECUTE FUNCTION billing.reject_line_on_final_invoice()""",
)


def _checks(sources: str, kinds: str) -> None:
    for table, column, values in (
        ("invoice_line_items", "source", sources),
        ("pending_charges", "kind", kinds),
    ):
        name = op.f(f"ck_{table}_{column}")
        op.drop_constraint(name, table, schema=S, type_="check")
        op.create_check_constraint(name, table, f"{column} IN {values}", schema=S)


def _amount_checks(due: str, credited: str) -> None:
    for name, condition in (("amount_due", due), ("amount_credited", credited)):
        op.drop_constraint(op.f(f"ck_invoices_{name}"), "invoices", schema=S, type_="check")
        op.create_check_constraint(op.f(f"ck_invoices_{name}"), "invoices", condition, schema=S)


def upgrade() -> None:
    _amount_checks(DRAFT_OR_FINAL_DUE, DRAFT_OR_FINAL_CREDITED)
    op.add_column("invoices", sa.Column("auto_finalize_at", sa.DateTime(timezone=True)), schema=S)
    op.create_index(
        op.f("ix_invoices_auto_finalize"),
        "invoices",
        ["auto_finalize_at"],
        schema=S,
        postgresql_where=sa.text("status = 'draft' AND auto_finalize_at IS NOT NULL"),
    )
    for table in ("invoice_line_items", "pending_charges"):
        op.add_column(table, sa.Column("price_id", sa.Uuid()), schema=S)
        op.create_foreign_key(
            op.f(f"fk_{table}_price_id_prices"), table, "prices", ["price_id"], ["id"],
            source_schema=S, referent_schema=S, ondelete="RESTRICT",
        )  # fmt: skip
    _checks(NEW_SOURCES, NEW_KINDS)
    for statement in GUARD_LINE_INSERT:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER trg_invoice_line_items_draft_only ON billing.invoice_line_items")
    op.execute("DROP FUNCTION billing.reject_line_on_final_invoice()")
    _checks(OLD_SOURCES, OLD_KINDS)
    for table in ("invoice_line_items", "pending_charges"):
        op.drop_constraint(op.f(f"fk_{table}_price_id_prices"), table, schema=S, type_="foreignkey")
        op.drop_column(table, "price_id", schema=S)
    op.drop_index(op.f("ix_invoices_auto_finalize"), "invoices", schema=S)
    op.drop_column("invoices", "auto_finalize_at", schema=S)
    op.execute("UPDATE billing.invoices SET amount_due = total WHERE status = 'draft'")
    _amount_checks(FINAL_DUE, FINAL_CREDITED)
