"""entitlements: catalog, pools, provisions, materialized entitlements, usage

Revision ID: entitlements_0006_tables
Revises: identity_0005_users_holds_merges
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "entitlements_0006_tables"
down_revision = "identity_0005_users_holds_merges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled by the module's issue


def downgrade() -> None:
    pass
