"""billing: credit grants and their append-only ledger

Revision ID: billing_0027_credit_grants
Revises: billing_0026_invoice_drafts
Create Date: 2026-11-30

A grant (promotional or paid) gives an account an amount of credit in one currency, burnt by
finalized invoices in burn order (priority, soonest expiry, oldest). Its balance is the sum of
its rows in `credit_transactions`: append-only (trigger), and never below zero nor above the
grant (checked by an insert trigger under the grant's row lock). A source grants once
(UNIQUE (source_type, source_id)).

Data: every open `credit` pending charge that credits the account (negative; a voided credit
note's pair is left as it was, the two lines cancel on the next invoice) becomes a grant, its
source the credit note that made it, or else the pending charge itself. Downgrade turns what
is left of every grant back into a `credit` pending charge (what invoices already used stays on
them as `credit_applied`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from platform_core.persistence.migration_helpers import add_updated_at_trigger

revision = "billing_0027_credit_grants"
down_revision = "billing_0026_invoice_drafts"
branch_labels = None
depends_on = None

S = "billing"
NOW = sa.text("now()")
CATEGORIES = "('promotional', 'paid')"
SOURCES = "('operator', 'carried_credit', 'overpayment', 'credit_note', 'patronage', 'pending_charge')"
KINDS = "('grant', 'applied', 'restored', 'expired', 'voided')"
SIGNS = "(kind IN ('grant', 'restored') AND amount > 0) OR (kind IN ('applied', 'expired', 'voided') AND amount < 0)"
LIVE = "voided_at IS NULL AND expired_at IS NULL"

LEDGER_TRIGGERS = (
    """CREATE FUNCTION billing.reject_credit_transaction_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'billing.credit_transactions is append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$""",
    """CREATE TRIGGER trg_credit_transactions_append_only BEFORE UPDATE OR DELETE
  ON billing.credit_transactions FOR EACH ROW EXECUTE FUNCTION billing.reject_credit_transaction_edit()""",
    # the balance after this row stays within [0, amount], read under the grant's row lock
    """CREATE FUNCTION billing.check_credit_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  granted bigint;
  balance bigint;
BEGIN
  SELECT amount INTO granted FROM billing.credit_grants WHERE id = NEW.grant_id FOR UPDATE;
  SELECT coalesce(sum(amount), 0) + NEW.amount INTO balance
    FROM billing.credit_transactions WHERE grant_id = NEW.grant_id;
  IF balance < 0 OR balance > granted THEN
    RAISE EXCEPTION 'credit grant % would hold % of %', NEW.grant_id, balance, granted
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$""",
    """CREATE TRIGGER trg_credit_transactions_balance BEFORE INSERT
  ON billing.credit_transactions FOR EACH ROW EXECUTE FUNCTION billing.check_credit_balance()""",
)

# open credits (negative `credit` pending charges) become grants; a voided note's pair stays
_OPEN_CREDITS = """
SELECT p.id, p.org_id, p.account_id, p.amount, p.currency, p.description, p.created_at,
       n.id AS note_id
  FROM billing.pending_charges p
  LEFT JOIN billing.credit_notes n ON n.pending_charge_id = p.id
 WHERE p.kind = 'credit' AND p.invoice_id IS NULL AND p.amount < 0
   AND (n.id IS NULL OR n.status = 'issued')
"""
_GRANT_FROM_CHARGE = """
INSERT INTO billing.credit_grants
  (id, org_id, account_id, category, amount, currency, effective_at, description, source_type,
   source_id, created_at, updated_at)
VALUES (:id, :org_id, :account_id, 'paid', :amount, :currency, :at, :description, :source_type,
        :source_id, :at, :at)
"""
_LEDGER_GRANT = """
INSERT INTO billing.credit_transactions (id, grant_id, org_id, kind, amount, created_at)
VALUES (gen_random_uuid(), :id, :org_id, 'grant', :amount, :at)
"""
# what is left of each grant, back to a pending credit (downgrade)
_REMAINING = """
SELECT g.id, g.org_id, g.account_id, g.currency, g.description, g.created_at, g.source_type,
       g.source_id, sum(t.amount) AS remaining
  FROM billing.credit_grants g JOIN billing.credit_transactions t ON t.grant_id = g.id
 GROUP BY g.id HAVING sum(t.amount) > 0
"""
_CHARGE_FROM_GRANT = """
INSERT INTO billing.pending_charges (id, org_id, account_id, kind, description, amount, currency, created_at)
VALUES (:id, :org_id, :account_id, 'credit', :description, :amount, :currency, :at)
"""


def _link_notes(statement: str, params: list[dict[str, object]]) -> None:
    """Credit notes are immutable by trigger; moving their credit between a pending charge and a
    grant is the one change this migration makes to them."""
    if not params:
        return
    op.execute("ALTER TABLE billing.credit_notes DISABLE TRIGGER trg_credit_notes_issued")
    op.get_bind().execute(sa.text(statement), params)
    op.execute("ALTER TABLE billing.credit_notes ENABLE TRIGGER trg_credit_notes_issued")


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[-2]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete="RESTRICT"
    )


def _create_tables() -> None:
    op.create_table(
        "credit_grants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), server_default="50", nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applies_to_price_ids", postgresql.ARRAY(sa.Uuid()), server_default="{}", nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source_type", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(f"category IN {CATEGORIES}", name=op.f("ck_credit_grants_category")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_grants_amount_positive")),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_credit_grants_currency")),
        sa.CheckConstraint("priority BETWEEN 0 AND 100", name=op.f("ck_credit_grants_priority")),
        sa.CheckConstraint(
            "expires_at IS NULL OR expires_at > effective_at",
            name=op.f("ck_credit_grants_expires_after_effective"),
        ),
        sa.CheckConstraint(f"source_type IN {SOURCES}", name=op.f("ck_credit_grants_source_type")),
        sa.CheckConstraint(
            "expired_at IS NULL OR expires_at IS NOT NULL",
            name=op.f("ck_credit_grants_expired_when_expiring"),
        ),
        _fk("credit_grants", "org_id", "organization.organizations.id"),
        _fk("credit_grants", "account_id", "billing.billing_accounts.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_grants")),
        sa.UniqueConstraint("source_type", "source_id", name=op.f("uq_credit_grants_source_type_source_id")),
        schema=S,
    )
    op.create_index("ix_credit_grants_account_id_id", "credit_grants", ["account_id", "id"], schema=S)
    op.create_index("ix_credit_grants_org_id_id", "credit_grants", ["org_id", "id"], schema=S)
    op.create_index(
        "ix_credit_grants_live", "credit_grants", ["account_id", "currency"], schema=S,
        postgresql_where=sa.text(LIVE),
    )  # fmt: skip
    op.create_index(
        "ix_credit_grants_expiring", "credit_grants", ["expires_at"], schema=S,
        postgresql_where=sa.text(f"expires_at IS NOT NULL AND {LIVE}"),
    )  # fmt: skip
    add_updated_at_trigger(S, "credit_grants")
    op.create_table(
        "credit_transactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(f"kind IN {KINDS}", name=op.f("ck_credit_transactions_kind")),
        sa.CheckConstraint(SIGNS, name=op.f("ck_credit_transactions_sign")),
        sa.CheckConstraint(
            "(kind IN ('applied', 'restored')) = (invoice_id IS NOT NULL)",
            name=op.f("ck_credit_transactions_invoice_when_applied"),
        ),
        _fk("credit_transactions", "grant_id", "billing.credit_grants.id"),
        _fk("credit_transactions", "org_id", "organization.organizations.id"),
        _fk("credit_transactions", "invoice_id", "billing.invoices.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_transactions")),
        schema=S,
    )
    op.create_index("ix_credit_transactions_grant_id_id", "credit_transactions", ["grant_id", "id"], schema=S)
    op.create_index(
        "ix_credit_transactions_invoice_id", "credit_transactions", ["invoice_id"], schema=S,
        postgresql_where=sa.text("invoice_id IS NOT NULL"),
    )  # fmt: skip
    # once per grant: its grant row, its expiry, its voiding; once per grant and invoice: applied
    for name, columns, where in (
        ("uq_credit_transactions_once", ["grant_id", "kind"], "kind IN ('grant', 'expired', 'voided')"),
        ("uq_credit_transactions_per_invoice", ["grant_id", "kind", "invoice_id"], "invoice_id IS NOT NULL"),
    ):
        op.create_index(
            name, "credit_transactions", columns, unique=True, schema=S, postgresql_where=sa.text(where)
        )
    for statement in LEDGER_TRIGGERS:
        op.execute(statement)


def upgrade() -> None:
    _create_tables()
    bind = op.get_bind()
    notes: list[dict[str, object]] = []
    for c in bind.execute(sa.text(_OPEN_CREDITS)).all():
        params = {
            "id": c.id, "org_id": c.org_id, "account_id": c.account_id, "amount": -c.amount,
            "currency": c.currency, "at": c.created_at, "description": c.description,
            "source_type": "credit_note" if c.note_id else "pending_charge",
            "source_id": c.note_id or c.id,
        }  # fmt: skip
        bind.execute(sa.text(_GRANT_FROM_CHARGE), params)  # the grant takes the charge's id
        bind.execute(sa.text(_LEDGER_GRANT), params)
        if c.note_id:
            notes.append({"note": c.note_id})
    _link_notes("UPDATE billing.credit_notes SET pending_charge_id = NULL WHERE id = :note", notes)
    bind.execute(
        sa.text(
            "DELETE FROM billing.pending_charges p USING billing.credit_grants g"
            " WHERE p.id = g.id AND g.source_type IN ('credit_note', 'pending_charge')"
        )
    )


def downgrade() -> None:
    bind = op.get_bind()
    notes: list[dict[str, object]] = []
    for g in bind.execute(sa.text(_REMAINING)).all():
        bind.execute(
            sa.text(_CHARGE_FROM_GRANT),
            {
                "id": g.id, "org_id": g.org_id, "account_id": g.account_id, "currency": g.currency,
                "description": g.description, "amount": -int(g.remaining), "at": g.created_at,
            },
        )  # fmt: skip
        if g.source_type == "credit_note":
            notes.append({"note": g.source_id, "charge": g.id})
    _link_notes("UPDATE billing.credit_notes SET pending_charge_id = :charge WHERE id = :note", notes)
    op.drop_table("credit_transactions", schema=S)
    op.execute("DROP FUNCTION billing.check_credit_balance()")
    op.execute("DROP FUNCTION billing.reject_credit_transaction_edit()")
    op.drop_table("credit_grants", schema=S)
