"""cooperative: approved patronage allocations and their payouts

Revision ID: cooperative_0034_allocations
Revises: billing_0033_discounts_anytime
Create Date: 2026-11-30

An allocation is computed as a draft (with its rows) and approved once per (fiscal year,
currency). Triggers make it immutable: an allocation is inserted as a draft, its only change is
draft -> approved, which is refused unless its rows add up exactly to the surplus (and their
patronage to the total); an approved allocation is never changed or deleted, rows never change
and are neither added to nor removed from an approved allocation. Payouts are append-only, one
per row, only for an approved row and for exactly its amount.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from platform_core.persistence.migration_helpers import add_updated_at_trigger

revision = "cooperative_0034_allocations"
down_revision = "billing_0033_discounts_anytime"
branch_labels = None
depends_on = None

S = "cooperative"
NOW = sa.text("now()")
REFUSED = "USING ERRCODE = 'insufficient_privilege'"

TRIGGERS = (
    f"""CREATE FUNCTION {S}.guard_allocation() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  rows_amount bigint;
  rows_patronage bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.status <> 'draft' THEN
      RAISE EXCEPTION 'an allocation starts as a draft' {REFUSED};
    END IF;
    RETURN NEW;
  END IF;
  IF OLD.status = 'approved' THEN
    RAISE EXCEPTION 'an approved allocation is immutable (% refused)', TG_OP {REFUSED};
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  IF NEW.status <> 'approved'
     OR (NEW.id, NEW.fiscal_year, NEW.currency, NEW.surplus, NEW.total_patronage, NEW.computed_by,
         NEW.created_at)
        IS DISTINCT FROM
        (OLD.id, OLD.fiscal_year, OLD.currency, OLD.surplus, OLD.total_patronage, OLD.computed_by,
         OLD.created_at) THEN
    RAISE EXCEPTION 'a draft allocation only changes by being approved' {REFUSED};
  END IF;
  SELECT coalesce(sum(amount), 0), coalesce(sum(patronage), 0) INTO rows_amount, rows_patronage
    FROM {S}.allocation_rows WHERE allocation_id = NEW.id;
  IF rows_amount <> NEW.surplus OR rows_patronage <> NEW.total_patronage THEN
    RAISE EXCEPTION 'allocation %: rows add up to % (patronage %), not the surplus % (patronage %)',
      NEW.id, rows_amount, rows_patronage, NEW.surplus, NEW.total_patronage
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$""",
    f"""CREATE TRIGGER trg_allocations_guard BEFORE INSERT OR UPDATE OR DELETE ON {S}.allocations
  FOR EACH ROW EXECUTE FUNCTION {S}.guard_allocation()""",
    f"""CREATE FUNCTION {S}.guard_allocation_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    RAISE EXCEPTION 'an allocation row never changes' {REFUSED};
  END IF;
  IF EXISTS (SELECT 1 FROM {S}.allocations
              WHERE id = CASE WHEN TG_OP = 'INSERT' THEN NEW.allocation_id ELSE OLD.allocation_id END
                AND status = 'approved') THEN
    RAISE EXCEPTION 'the rows of an approved allocation are fixed (% refused)', TG_OP {REFUSED};
  END IF;
  RETURN CASE WHEN TG_OP = 'INSERT' THEN NEW ELSE OLD END;
END $$""",
    f"""CREATE TRIGGER trg_allocation_rows_guard BEFORE INSERT OR UPDATE OR DELETE ON {S}.allocation_rows
  FOR EACH ROW EXECUTE FUNCTION {S}.guard_allocation_row()""",
    f"""CREATE FUNCTION {S}.guard_allocation_payout() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    RAISE EXCEPTION '{S}.allocation_payouts is append-only (% refused)', TG_OP {REFUSED};
  END IF;
  IF NOT EXISTS (SELECT 1 FROM {S}.allocation_rows r JOIN {S}.allocations a ON a.id = r.allocation_id
                  WHERE r.id = NEW.allocation_row_id AND a.status = 'approved'
                    AND r.amount = NEW.amount AND a.currency = NEW.currency) THEN
    RAISE EXCEPTION 'a payout pays an approved row its amount, in its currency'
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$""",
    f"""CREATE TRIGGER trg_allocation_payouts_guard BEFORE INSERT OR UPDATE OR DELETE ON {S}.allocation_payouts
  FOR EACH ROW EXECUTE FUNCTION {S}.guard_allocation_payout()""",
)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[-2]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete="RESTRICT"
    )


def upgrade() -> None:
    op.create_table(
        "allocations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("surplus", sa.BigInteger(), nullable=False),
        sa.Column("total_patronage", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("computed_by", sa.Text(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("status IN ('draft', 'approved')", name=op.f("ck_allocations_status")),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_allocations_currency")),
        sa.CheckConstraint("fiscal_year BETWEEN 2000 AND 2200", name=op.f("ck_allocations_fiscal_year")),
        sa.CheckConstraint("surplus >= 0 AND total_patronage >= 0", name=op.f("ck_allocations_amounts")),
        sa.CheckConstraint(
            "(status = 'approved') = (approved_at IS NOT NULL)", name=op.f("ck_allocations_approved")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
        schema=S,
    )
    op.create_index(
        "uq_allocations_approved_fiscal_year_currency",
        "allocations",
        ["fiscal_year", "currency"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("status = 'approved'"),
    )
    op.create_index(
        "ix_allocations_fiscal_year_currency", "allocations", ["fiscal_year", "currency"], schema=S
    )
    add_updated_at_trigger(S, "allocations")
    op.create_table(
        "allocation_rows",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("allocation_id", sa.Uuid(), nullable=False),
        sa.Column("patron_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("patronage", sa.BigInteger(), nullable=False),
        sa.Column("share", sa.Numeric(13, 12), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("patronage > 0", name=op.f("ck_allocation_rows_patronage")),
        sa.CheckConstraint("share > 0 AND share <= 1", name=op.f("ck_allocation_rows_share")),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_allocation_rows_amount")),
        _fk("allocation_rows", "allocation_id", "cooperative.allocations.id"),
        _fk("allocation_rows", "patron_id", "cooperative.patrons.id"),
        _fk("allocation_rows", "account_id", "billing.billing_accounts.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_rows")),
        sa.UniqueConstraint(
            "allocation_id", "patron_id", name=op.f("uq_allocation_rows_allocation_id_patron_id")
        ),
        schema=S,
    )
    op.create_index(op.f("ix_allocation_rows_patron_id"), "allocation_rows", ["patron_id"], schema=S)
    op.create_table(
        "allocation_payouts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("allocation_row_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("credit_grant_id", sa.Uuid(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("method IN ('credit', 'cash')", name=op.f("ck_allocation_payouts_method")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_allocation_payouts_amount")),
        sa.CheckConstraint(
            "(method = 'credit') = (credit_grant_id IS NOT NULL)", name=op.f("ck_allocation_payouts_credit")
        ),
        sa.CheckConstraint(
            "(method = 'cash') = (reference IS NOT NULL)", name=op.f("ck_allocation_payouts_cash")
        ),
        _fk("allocation_payouts", "allocation_row_id", "cooperative.allocation_rows.id"),
        _fk("allocation_payouts", "credit_grant_id", "billing.credit_grants.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_payouts")),
        sa.UniqueConstraint("allocation_row_id", name=op.f("uq_allocation_payouts_allocation_row_id")),
        schema=S,
    )
    for statement in TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("allocation_payouts", schema=S)
    op.drop_table("allocation_rows", schema=S)
    op.drop_table("allocations", schema=S)
    for function in ("guard_allocation_payout", "guard_allocation_row", "guard_allocation"):
        op.execute(f"DROP FUNCTION {S}.{function}()")
