"""audit: archive manifests link the chain across deleted records

Retention deletes expired records in runs of consecutive seq; each run leaves a manifest row
holding the hash before the run (`prev_hash`) and of its last record (`last_hash`), so `verify`
can step over the gap and still prove that nothing else was removed or changed. A run deleted
without an archive file has no `sha256`/`location`.

Revision ID: audit_0010_retention
Revises: integration_0009_webhooks
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "audit_0010_retention"
down_revision = "integration_0009_webhooks"
branch_labels = None
depends_on = None

TABLE = "audit_archive_manifest"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT EXISTS (SELECT 1 FROM audit.audit_archive_manifest)")).scalar_one():
        raise RuntimeError("audit_archive_manifest already has rows written without chain links")
    op.add_column(TABLE, sa.Column("prev_hash", sa.LargeBinary()), schema="audit")
    op.add_column(TABLE, sa.Column("last_hash", sa.LargeBinary(), nullable=False), schema="audit")
    op.alter_column(TABLE, "sha256", nullable=True, schema="audit")
    op.alter_column(TABLE, "location", nullable=True, schema="audit")
    op.create_check_constraint(
        op.f("ck_audit_archive_manifest_contiguous"),
        TABLE,
        "row_count = seq_to - seq_from + 1",
        schema="audit",
    )
    op.create_check_constraint(
        op.f("ck_audit_archive_manifest_file"), TABLE, "(sha256 IS NULL) = (location IS NULL)", schema="audit"
    )
    op.create_unique_constraint(
        op.f("uq_audit_archive_manifest_org_id_seq_from"),
        TABLE,
        ["org_id", "seq_from"],
        schema="audit",
        postgresql_nulls_not_distinct=True,
    )


def downgrade() -> None:
    op.drop_constraint(op.f("uq_audit_archive_manifest_org_id_seq_from"), TABLE, schema="audit")
    op.drop_constraint(op.f("ck_audit_archive_manifest_file"), TABLE, schema="audit")
    op.drop_constraint(op.f("ck_audit_archive_manifest_contiguous"), TABLE, schema="audit")
    op.execute("DELETE FROM audit.audit_archive_manifest WHERE sha256 IS NULL")
    op.alter_column(TABLE, "location", nullable=False, schema="audit")
    op.alter_column(TABLE, "sha256", nullable=False, schema="audit")
    op.drop_column(TABLE, "last_hash", schema="audit")
    op.drop_column(TABLE, "prev_hash", schema="audit")
