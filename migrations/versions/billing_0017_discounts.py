"""billing: coupons, promotion codes and the discounts they apply

Revision ID: billing_0017_discounts
Revises: billing_0016_payments
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "billing_0017_discounts"
down_revision = "billing_0016_payments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coupons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("percent_off_bp", sa.Integer(), nullable=True),
        sa.Column("amount_off", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("duration", sa.Text(), nullable=False),
        sa.Column("duration_in_periods", sa.Integer(), nullable=True),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("times_redeemed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("redeem_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(duration = 'repeating') = (duration_in_periods IS NOT NULL)",
            name=op.f("ck_coupons_repeating_periods"),
        ),
        sa.CheckConstraint("duration IN ('once', 'repeating', 'forever')", name=op.f("ck_coupons_duration")),
        sa.CheckConstraint("key ~ '^[a-z0-9][a-z0-9_.-]{0,99}$'", name=op.f("ck_coupons_key_format")),
        sa.CheckConstraint(
            "(percent_off_bp IS NULL) <> (amount_off IS NULL)", name=op.f("ck_coupons_percent_or_amount")
        ),
        sa.CheckConstraint(
            "amount_off IS NULL OR (amount_off > 0 AND currency IS NOT NULL)",
            name=op.f("ck_coupons_amount_currency"),
        ),
        sa.CheckConstraint(
            "max_redemptions IS NULL OR times_redeemed <= max_redemptions",
            name=op.f("ck_coupons_redemptions"),
        ),
        sa.CheckConstraint(
            "percent_off_bp IS NULL OR percent_off_bp BETWEEN 1 AND 10000",
            name=op.f("ck_coupons_percent_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("key", name=op.f("uq_coupons_key")),
        schema="billing",
    )
    op.create_table(
        "promotion_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("coupon_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("times_redeemed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "code ~ '^[A-Z0-9][A-Z0-9_-]{2,49}$'", name=op.f("ck_promotion_codes_code_format")
        ),
        sa.CheckConstraint(
            "max_redemptions IS NULL OR times_redeemed <= max_redemptions",
            name=op.f("ck_promotion_codes_redemptions"),
        ),
        sa.ForeignKeyConstraint(
            ["coupon_id"],
            ["billing.coupons.id"],
            name=op.f("fk_promotion_codes_coupon_id_coupons"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_promotion_codes_code")),
        schema="billing",
    )
    op.create_index(
        op.f("ix_promotion_codes_coupon_id"), "promotion_codes", ["coupon_id"], unique=False, schema="billing"
    )
    op.create_table(
        "discounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("coupon_id", sa.Uuid(), nullable=False),
        sa.Column("promotion_code_id", sa.Uuid(), nullable=True),
        sa.Column("periods_remaining", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "periods_remaining IS NULL OR periods_remaining >= 0", name=op.f("ck_discounts_periods_remaining")
        ),
        sa.ForeignKeyConstraint(
            ["coupon_id"],
            ["billing.coupons.id"],
            name=op.f("fk_discounts_coupon_id_coupons"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.organizations.id"],
            name=op.f("fk_discounts_org_id_organizations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["promotion_code_id"],
            ["billing.promotion_codes.id"],
            name=op.f("fk_discounts_promotion_code_id_promotion_codes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["billing.subscriptions.id"],
            name=op.f("fk_discounts_subscription_id_subscriptions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discounts")),
        sa.UniqueConstraint("subscription_id", name=op.f("uq_discounts_subscription_id")),
        schema="billing",
    )


def downgrade() -> None:
    op.drop_table("discounts", schema="billing")
    op.drop_index(op.f("ix_promotion_codes_coupon_id"), table_name="promotion_codes", schema="billing")
    op.drop_table("promotion_codes", schema="billing")
    op.drop_table("coupons", schema="billing")
