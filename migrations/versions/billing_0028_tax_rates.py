"""billing: tax rates and tax per invoice line

Revision ID: billing_0028_tax_rates
Revises: billing_0027_credit_grants
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "billing_0028_tax_rates"
down_revision = "billing_0027_credit_grants"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
