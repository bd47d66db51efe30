"""billing: discounts on accounts and subscriptions at any time; promotion code restrictions

Revision ID: billing_0033_discounts_anytime
Revises: billing_0032_plan_changes
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "billing_0033_discounts_anytime"
down_revision = "billing_0032_plan_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
