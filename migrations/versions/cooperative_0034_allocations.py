"""cooperative: approved patronage allocations and their payouts

Revision ID: cooperative_0034_allocations
Revises: billing_0033_discounts_anytime
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "cooperative_0034_allocations"
down_revision = "billing_0033_discounts_anytime"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
