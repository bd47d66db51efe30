"""billing: discounts on accounts and subscriptions at any time; promotion code restrictions

Revision ID: billing_0033_discounts_anytime
Revises: billing_0032_plan_changes
Create Date: 2026-11-30

A discount (after Stripe's customer and subscription `discount`) is on an account (every
invoice of it) or on one subscription (its invoices; it overrides the account's). It runs from
`starts_at` to `ends_at` (a `repeating` coupon's months; NULL for `once` and `forever`) and
ends early when used (`once`), removed, or lazily once `ends_at` passed. At most one discount
in force per account and per subscription (partial unique indexes); ended ones stay, listed.
Promotion codes gain Stripe's restrictions: first-time customers only, a minimum amount.
Downgrading keeps, per subscription, its latest discount and drops account discounts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "billing_0033_discounts_anytime"
down_revision = "billing_0032_plan_changes"
branch_labels = None
depends_on = None

S = "billing"
TS = sa.DateTime(timezone=True)
END_REASONS = "('used', 'expired', 'removed')"


def upgrade() -> None:
    op.add_column("discounts", sa.Column("account_id", sa.Uuid()), schema=S)
    op.add_column("discounts", sa.Column("starts_at", TS), schema=S)
    op.add_column("discounts", sa.Column("ends_at", TS), schema=S)
    op.add_column("discounts", sa.Column("end_reason", sa.Text()), schema=S)
    op.add_column(
        "discounts",
        sa.Column("applied_by_operator", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        schema=S,
    )
    op.add_column("discounts", sa.Column("applied_by", sa.Text()), schema=S)
    op.add_column("discounts", sa.Column("ended_by", sa.Text()), schema=S)
    op.execute(
        """UPDATE billing.discounts d SET account_id = s.account_id, starts_at = d.created_at,
                  ends_at = CASE WHEN c.duration = 'repeating'
                                 THEN d.created_at + make_interval(months => c.duration_in_periods) END,
                  end_reason = CASE WHEN d.ended_at IS NULL THEN NULL
                                    WHEN c.duration = 'once' THEN 'used' ELSE 'expired' END
             FROM billing.subscriptions s, billing.coupons c
            WHERE s.id = d.subscription_id AND c.id = d.coupon_id"""
    )
    op.alter_column("discounts", "account_id", nullable=False, schema=S)
    op.alter_column("discounts", "starts_at", nullable=False, schema=S)
    op.alter_column("discounts", "subscription_id", nullable=True, schema=S)
    op.create_foreign_key(
        op.f("fk_discounts_account_id_billing_accounts"), "discounts", "billing_accounts",
        ["account_id"], ["id"], source_schema=S, referent_schema=S, ondelete="RESTRICT",
    )  # fmt: skip
    op.drop_constraint(op.f("uq_discounts_subscription_id"), "discounts", schema=S, type_="unique")
    op.drop_column("discounts", "periods_remaining", schema=S)
    op.create_check_constraint(
        op.f("ck_discounts_ends_after_start"), "discounts", "ends_at IS NULL OR ends_at > starts_at", schema=S
    )
    op.create_check_constraint(
        op.f("ck_discounts_end_reason"), "discounts", f"end_reason IN {END_REASONS}", schema=S
    )
    op.create_check_constraint(
        op.f("ck_discounts_ended"), "discounts", "(ended_at IS NULL) = (end_reason IS NULL)", schema=S
    )
    op.create_index(
        "uq_discounts_account_in_force", "discounts", ["account_id"], unique=True, schema=S,
        postgresql_where=sa.text("subscription_id IS NULL AND ended_at IS NULL"),
    )  # fmt: skip
    op.create_index(
        "uq_discounts_subscription_in_force", "discounts", ["subscription_id"], unique=True, schema=S,
        postgresql_where=sa.text("ended_at IS NULL"),
    )  # fmt: skip
    op.create_index("ix_discounts_org_id_id", "discounts", ["org_id", "id"], schema=S)

    op.add_column(
        "promotion_codes",
        sa.Column("first_time_transaction", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        schema=S,
    )
    op.add_column("promotion_codes", sa.Column("minimum_amount", sa.BigInteger()), schema=S)
    op.add_column("promotion_codes", sa.Column("minimum_amount_currency", sa.Text()), schema=S)
    op.create_check_constraint(
        op.f("ck_promotion_codes_minimum_amount"),
        "promotion_codes",
        "(minimum_amount IS NULL) = (minimum_amount_currency IS NULL)"
        " AND (minimum_amount IS NULL OR minimum_amount > 0)"
        " AND (minimum_amount_currency IS NULL OR minimum_amount_currency ~ '^[A-Z]{3}$')",
        schema=S,
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_promotion_codes_minimum_amount"), "promotion_codes", schema=S, type_="check")
    for column in ("minimum_amount_currency", "minimum_amount", "first_time_transaction"):
        op.drop_column("promotion_codes", column, schema=S)

    op.execute("DELETE FROM billing.discounts WHERE subscription_id IS NULL")
    op.execute(
        """DELETE FROM billing.discounts d WHERE EXISTS (
             SELECT 1 FROM billing.discounts later
              WHERE later.subscription_id = d.subscription_id AND later.id > d.id)"""
    )
    op.drop_index("ix_discounts_org_id_id", "discounts", schema=S)
    op.drop_index("uq_discounts_subscription_in_force", "discounts", schema=S)
    op.drop_index("uq_discounts_account_in_force", "discounts", schema=S)
    for check in ("ended", "end_reason", "ends_after_start"):
        op.drop_constraint(op.f(f"ck_discounts_{check}"), "discounts", schema=S, type_="check")
    op.add_column("discounts", sa.Column("periods_remaining", sa.Integer()), schema=S)
    op.execute(
        """UPDATE billing.discounts d
              SET periods_remaining = CASE WHEN c.duration = 'forever' THEN NULL
                                           WHEN d.ended_at IS NOT NULL THEN 0
                                           WHEN c.duration = 'once' THEN 1
                                           ELSE c.duration_in_periods END
             FROM billing.coupons c WHERE c.id = d.coupon_id"""
    )
    op.create_check_constraint(
        op.f("ck_discounts_periods_remaining"),
        "discounts",
        "periods_remaining IS NULL OR periods_remaining >= 0",
        schema=S,
    )
    op.create_unique_constraint(
        op.f("uq_discounts_subscription_id"), "discounts", ["subscription_id"], schema=S
    )
    op.alter_column("discounts", "subscription_id", nullable=False, schema=S)
    op.drop_constraint(
        op.f("fk_discounts_account_id_billing_accounts"), "discounts", schema=S, type_="foreignkey"
    )
    for column in ("ended_by", "applied_by", "applied_by_operator", "end_reason", "ends_at", "starts_at"):
        op.drop_column("discounts", column, schema=S)
    op.drop_column("discounts", "account_id", schema=S)
