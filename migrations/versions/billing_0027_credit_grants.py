"""billing: credit grants and their append-only ledger

Revision ID: billing_0027_credit_grants
Revises: billing_0026_invoice_drafts
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "billing_0027_credit_grants"
down_revision = "billing_0026_invoice_drafts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
