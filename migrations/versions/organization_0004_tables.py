"""organization: organizations, members, roles, assignments, workspaces, service accounts, keys, invitations

Revision ID: organization_0004_tables
Revises: audit_0003_log_outbox
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "organization_0004_tables"
down_revision = "audit_0003_log_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled by the module's issue


def downgrade() -> None:
    pass
