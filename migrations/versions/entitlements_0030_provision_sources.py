"""entitlements: provisions reference their source by foreign key

Revision ID: entitlements_0030_provision_sources
Revises: billing_0029_purchases
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "entitlements_0030_provision_sources"
down_revision = "billing_0029_purchases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
