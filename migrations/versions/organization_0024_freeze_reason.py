"""organization: why an organization is frozen

Revision ID: organization_0024_freeze_reason
Revises: entitlements_0023_suspensions
Create Date: 2026-11-30

`frozen_reason` says why a frozen organization is read-only (billing's dunning freezes with
`nonpayment`, and paying unfreezes only such a freeze); NULL whenever it is not frozen, and for
organizations frozen before this revision (an unknown reason is never undone by paying).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "organization_0024_freeze_reason"
down_revision = "entitlements_0023_suspensions"
branch_labels = None
depends_on = None

S = "organization"


def upgrade() -> None:
    op.add_column("organizations", sa.Column("frozen_reason", sa.Text(), nullable=True), schema=S)
    op.create_check_constraint(
        op.f("ck_organizations_frozen_reason"),
        "organizations",
        "frozen_reason IS NULL OR (status = 'frozen' AND char_length(frozen_reason) BETWEEN 1 AND 500)",
        schema=S,
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_organizations_frozen_reason"), "organizations", schema=S, type_="check")
    op.drop_column("organizations", "frozen_reason", schema=S)
