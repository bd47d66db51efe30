"""billing: refunds, credit notes and disputes

Revision ID: billing_0020_refunds
Revises: integration_0019_provider_calls
Create Date: 2026-11-30

Invoices gain `amount_refunded` and `amount_credited`; a finalized invoice's immutability
trigger now lets `amount_due` move too (a credit note takes up to `amount_credited` off it,
which the amount_due check bounds). Credit notes are numbered from their own gapless sequence,
immutable once issued (only issued -> void), their lines append-only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from platform_core.persistence.migration_helpers import add_updated_at_trigger

revision = "billing_0020_refunds"
down_revision = "integration_0019_provider_calls"
branch_labels = None
depends_on = None

S = "billing"
NOW = sa.text("now()")
_IMMUTABLE_COLUMNS = (
    "NEW.number, NEW.currency, NEW.account_id, NEW.subscription_id, NEW.period_start, NEW.period_end,"
    " NEW.subtotal, NEW.discount_total, NEW.credit_applied, NEW.total, {due}NEW.finalized_at"
)


def _guard_final_invoice(due: str) -> str:
    new = _IMMUTABLE_COLUMNS.format(due=due)
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


CREDIT_NOTE_TRIGGERS = (
    """CREATE FUNCTION billing.guard_issued_credit_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'a credit note is never deleted' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF (to_jsonb(NEW) - 'status' - 'voided_at') IS DISTINCT FROM (to_jsonb(OLD) - 'status' - 'voided_at')
     OR (OLD.status = 'void' AND NEW.status <> 'void') THEN
    RAISE EXCEPTION 'an issued credit note is immutable; it can only be voided' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$""",
    """CREATE TRIGGER trg_credit_notes_issued BEFORE UPDATE OR DELETE ON billing.credit_notes
  FOR EACH ROW EXECUTE FUNCTION billing.guard_issued_credit_note()""",
    """CREATE TRIGGER trg_credit_note_lines_append_only BEFORE UPDATE OR DELETE ON billing.credit_note_lines
  FOR EACH ROW EXECUTE FUNCTION billing.reject_line_edit()""",
    "INSERT INTO billing.credit_note_number_sequences (issuer, prefix, next_number) VALUES ('keel', 'KEEL-CN-', 1)",
)


def _fk(table: str, column: str, target: str, ondelete: str = "RESTRICT") -> sa.ForeignKeyConstraint:
    referred = target.split(".")[-2]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete=ondelete
    )


def _currency(table: str) -> sa.CheckConstraint:
    return sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f(f"ck_{table}_currency"))


def _invoices_up() -> None:
    op.add_column(
        "invoices",
        sa.Column("amount_refunded", sa.BigInteger(), server_default="0", nullable=False),
        schema=S,
    )
    op.add_column(
        "invoices",
        sa.Column("amount_credited", sa.BigInteger(), server_default="0", nullable=False),
        schema=S,
    )
    op.drop_constraint(op.f("ck_invoices_amount_due"), "invoices", schema=S, type_="check")
    op.create_check_constraint(
        op.f("ck_invoices_amount_due"),
        "invoices",
        "amount_due >= 0 AND amount_due <= total - credit_applied"
        " AND amount_due >= total - credit_applied - amount_credited",
        schema=S,
    )
    op.create_check_constraint(
        op.f("ck_invoices_amount_refunded"), "invoices", "amount_refunded BETWEEN 0 AND amount_paid", schema=S
    )
    op.create_check_constraint(
        op.f("ck_invoices_amount_credited"), "invoices", "amount_credited BETWEEN 0 AND total", schema=S
    )
    op.execute(_guard_final_invoice(due=""))


def _invoices_down() -> None:
    op.execute(_guard_final_invoice(due="NEW.amount_due, "))
    op.drop_constraint(op.f("ck_invoices_amount_credited"), "invoices", schema=S, type_="check")
    op.drop_constraint(op.f("ck_invoices_amount_refunded"), "invoices", schema=S, type_="check")
    op.drop_constraint(op.f("ck_invoices_amount_due"), "invoices", schema=S, type_="check")
    op.create_check_constraint(
        op.f("ck_invoices_amount_due"),
        "invoices",
        "amount_due = total - credit_applied AND amount_due >= 0",
        schema=S,
    )
    op.drop_column("invoices", "amount_credited", schema=S)
    op.drop_column("invoices", "amount_refunded", schema=S)


# Alembic's version column is varchar(32); the next revision's id
# (cooperative_0021_patronage_reversals) is longer.
_VERSION_COLUMN = "ALTER TABLE public.alembic_version ALTER COLUMN version_num TYPE varchar({n})"


def upgrade() -> None:
    op.execute(_VERSION_COLUMN.format(n=64))
    _invoices_up()
    op.create_table(
        "credit_note_number_sequences",
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("next_number", sa.BigInteger(), server_default="1", nullable=False),
        sa.CheckConstraint("next_number >= 1", name=op.f("ck_credit_note_number_sequences_next_number")),
        sa.PrimaryKeyConstraint("issuer", name=op.f("pk_credit_note_number_sequences")),
        schema=S,
    )
    op.create_table(
        "credit_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_paid", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Text(), server_default="issued", nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("pre_payment_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("refund_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("credit_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("pending_charge_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        _currency("credit_notes"),
        sa.CheckConstraint(
            "reason IN ('duplicate', 'fraudulent', 'order_change', 'product_unsatisfactory')",
            name=op.f("ck_credit_notes_reason"),
        ),
        sa.CheckConstraint("status IN ('issued', 'void')", name=op.f("ck_credit_notes_status")),
        sa.CheckConstraint(
            "(status = 'void') = (voided_at IS NOT NULL)", name=op.f("ck_credit_notes_voided_when_void")
        ),
        sa.CheckConstraint(
            "amount > 0 AND pre_payment_amount >= 0 AND refund_amount >= 0 AND credit_amount >= 0"
            " AND amount = pre_payment_amount + refund_amount + credit_amount",
            name=op.f("ck_credit_notes_amounts"),
        ),
        _fk("credit_notes", "org_id", "organization.organizations.id"),
        _fk("credit_notes", "account_id", "billing.billing_accounts.id"),
        _fk("credit_notes", "invoice_id", "billing.invoices.id"),
        _fk("credit_notes", "pending_charge_id", "billing.pending_charges.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_notes")),
        sa.UniqueConstraint("number", name=op.f("uq_credit_notes_number")),
        schema=S,
    )
    op.create_index("ix_credit_notes_org_id_id", "credit_notes", ["org_id", "id"], schema=S)
    op.create_index(op.f("ix_credit_notes_invoice_id"), "credit_notes", ["invoice_id"], schema=S)
    op.create_table(
        "credit_note_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("credit_note_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_line_id", sa.Uuid(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_note_lines_amount_positive")),
        sa.CheckConstraint("quantity IS NULL OR quantity >= 1", name=op.f("ck_credit_note_lines_quantity")),
        _fk("credit_note_lines", "credit_note_id", "billing.credit_notes.id"),
        _fk("credit_note_lines", "invoice_line_id", "billing.invoice_line_items.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_note_lines")),
        schema=S,
    )
    op.create_index(
        op.f("ix_credit_note_lines_credit_note_id"), "credit_note_lines", ["credit_note_id"], schema=S
    )
    op.create_index(
        op.f("ix_credit_note_lines_invoice_line_id"), "credit_note_lines", ["invoice_line_id"], schema=S
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("credit_note_id", sa.Uuid(), nullable=True),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("provider_refund_id", sa.Text(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        _currency("refunds"),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_amount_positive")),
        sa.CheckConstraint(
            "reason IS NULL OR reason IN ('duplicate', 'fraudulent', 'requested_by_customer')",
            name=op.f("ck_refunds_reason"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'requires_action', 'succeeded', 'failed', 'canceled')",
            name=op.f("ck_refunds_status"),
        ),
        _fk("refunds", "org_id", "organization.organizations.id"),
        _fk("refunds", "account_id", "billing.billing_accounts.id"),
        _fk("refunds", "payment_id", "billing.payments.id"),
        _fk("refunds", "invoice_id", "billing.invoices.id"),
        _fk("refunds", "credit_note_id", "billing.credit_notes.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint(
            "provider", "provider_refund_id", name=op.f("uq_refunds_provider_provider_refund_id")
        ),
        schema=S,
    )
    op.create_index("ix_refunds_org_id_id", "refunds", ["org_id", "id"], schema=S)
    op.create_index(op.f("ix_refunds_payment_id"), "refunds", ["payment_id"], schema=S)
    add_updated_at_trigger(S, "refunds")
    op.create_table(
        "disputes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("provider_dispute_id", sa.Text(), nullable=False),
        sa.Column("provider_charge_id", sa.Text(), nullable=True),
        sa.Column("provider_payment_id", sa.Text(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("evidence_due_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("funds_withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("funds_reinstated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        _currency("disputes"),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_disputes_amount")),
        sa.CheckConstraint(
            "status IN ('warning_needs_response', 'warning_under_review', 'warning_closed',"
            " 'needs_response', 'under_review', 'won', 'lost')",
            name=op.f("ck_disputes_status"),
        ),
        _fk("disputes", "org_id", "organization.organizations.id"),
        _fk("disputes", "account_id", "billing.billing_accounts.id"),
        _fk("disputes", "payment_id", "billing.payments.id"),
        _fk("disputes", "invoice_id", "billing.invoices.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint(
            "provider", "provider_dispute_id", name=op.f("uq_disputes_provider_provider_dispute_id")
        ),
        schema=S,
    )
    op.create_index("ix_disputes_org_id_id", "disputes", ["org_id", "id"], schema=S)
    op.create_index(op.f("ix_disputes_payment_id"), "disputes", ["payment_id"], schema=S)
    add_updated_at_trigger(S, "disputes")
    for statement in CREDIT_NOTE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("disputes", schema=S)
    op.drop_table("refunds", schema=S)
    op.execute("DROP TRIGGER trg_credit_note_lines_append_only ON billing.credit_note_lines")
    op.execute("DROP TRIGGER trg_credit_notes_issued ON billing.credit_notes")
    op.execute("DROP FUNCTION billing.guard_issued_credit_note()")
    op.drop_table("credit_note_lines", schema=S)
    op.drop_table("credit_notes", schema=S)
    op.drop_table("credit_note_number_sequences", schema=S)
    _invoices_down()
    op.execute(_VERSION_COLUMN.format(n=32))
