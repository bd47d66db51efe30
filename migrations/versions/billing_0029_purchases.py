"""billing: one-time purchases

Revision ID: billing_0029_purchases
Revises: billing_0028_tax_rates
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "billing_0029_purchases"
down_revision = "billing_0028_tax_rates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
