"""identity: users (Keycloak mirror), retention holds, person merges

Revision ID: identity_0005_users_holds_merges
Revises: organization_0004_tables
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "identity_0005_users_holds_merges"
down_revision = "organization_0004_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled by the module's issue


def downgrade() -> None:
    pass
