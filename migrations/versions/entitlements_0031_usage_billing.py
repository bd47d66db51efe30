"""entitlements: usage events claimed by the invoice that bills them

Revision ID: entitlements_0031_usage_billing
Revises: entitlements_0030_provision_sources
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "entitlements_0031_usage_billing"
down_revision = "entitlements_0030_provision_sources"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
