"""billing: plan changes, scheduled changes and pauses

Revision ID: billing_0032_plan_changes
Revises: entitlements_0031_usage_billing
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "billing_0032_plan_changes"
down_revision = "entitlements_0031_usage_billing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
