"""platform: scheduled jobs (the timetable and last outcome of every housekeeping job)

Revision ID: platform_0008_scheduled_jobs
Revises: audit_0007_outbox_records
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "platform_0008_scheduled_jobs"
down_revision = "audit_0007_outbox_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "scheduled_jobs",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("every_seconds", sa.Integer(), nullable=False),
        sa.Column("lease_seconds", sa.Integer(), nullable=False),
        sa.Column("next_run_at", ts, nullable=False),
        sa.Column("running_since", ts),
        sa.Column("last_started_at", ts),
        sa.Column("last_finished_at", ts),
        sa.Column("last_outcome", sa.Text()),
        sa.Column("last_result", sa.Text()),
        sa.Column("runs", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("failures", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("every_seconds > 0", name="ck_scheduled_jobs_every_positive"),
        sa.CheckConstraint("lease_seconds > 0", name="ck_scheduled_jobs_lease_positive"),
        sa.CheckConstraint("last_outcome IN ('succeeded', 'failed')", name="ck_scheduled_jobs_last_outcome"),
        sa.PrimaryKeyConstraint("name", name="pk_scheduled_jobs"),
        schema="platform",
    )


def downgrade() -> None:
    op.drop_table("scheduled_jobs", schema="platform")
