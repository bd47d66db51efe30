"""audit: append-only hash-chained log, chain heads, outbox, retention, holds, archives

Revision ID: audit_0003_log_outbox
Revises: identity_0002_persons_tokens
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from platform_core.persistence.migration_helpers import add_updated_at_trigger

revision = "audit_0003_log_outbox"
down_revision = "identity_0002_persons_tokens"
branch_labels = None
depends_on = None


APPEND_ONLY = (
    """
CREATE FUNCTION audit.reject_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('keel.audit_retention', true) = 'on' THEN
    RETURN OLD;  -- retention jobs delete expired, archived rows under this setting only
  END IF;
  RAISE EXCEPTION 'audit.audit_logs is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$""",
    """CREATE TRIGGER trg_audit_logs_append_only BEFORE UPDATE OR DELETE ON audit.audit_logs
  FOR EACH ROW EXECUTE FUNCTION audit.reject_log_change()""",
    """CREATE TRIGGER trg_audit_logs_no_truncate BEFORE TRUNCATE ON audit.audit_logs
  FOR EACH STATEMENT EXECUTE FUNCTION audit.reject_log_change()""",
)


def upgrade() -> None:
    op.create_table(
        "audit_archive_manifest",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("range_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("range_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq_from", sa.BigInteger(), nullable=False),
        sa.Column("seq_to", sa.BigInteger(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("row_count >= 0", name=op.f("ck_audit_archive_manifest_row_count")),
        sa.CheckConstraint("seq_to >= seq_from", name=op.f("ck_audit_archive_manifest_seq_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_archive_manifest")),
        schema="audit",
    )
    op.create_index(
        op.f("ix_audit_archive_manifest_org_id"),
        "audit_archive_manifest",
        ["org_id"],
        unique=False,
        schema="audit",
    )
    op.create_table(
        "audit_chain_heads",
        sa.Column("chain_key", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("chain_key", name=op.f("pk_audit_chain_heads")),
        schema="audit",
    )
    op.create_table(
        "audit_legal_holds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("actor_id", sa.Text(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by", sa.Text(), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_legal_holds")),
        schema="audit",
    )
    op.create_index(
        op.f("ix_audit_legal_holds_org_id"),
        "audit_legal_holds",
        ["org_id"],
        unique=False,
        schema="audit",
    )
    op.create_table(
        "audit_logs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("crud", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), server_default="success", nullable=False),
        sa.Column("actor_type", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=True),
        sa.Column("actor_name", sa.Text(), nullable=True),
        sa.Column("target_type", sa.Text(), nullable=False),
        sa.Column("target_id", sa.Text(), nullable=False),
        sa.Column("target_name", sa.Text(), nullable=True),
        sa.Column("source_ip", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("event_version", sa.Integer(), nullable=False),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("prev_hash", sa.LargeBinary(), nullable=True),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("crud IN ('c', 'r', 'u', 'd')", name=op.f("ck_audit_logs_crud")),
        sa.CheckConstraint("outcome IN ('success', 'failure')", name=op.f("ck_audit_logs_outcome")),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_audit_logs_seq_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_logs")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_logs_event_id")),
        sa.UniqueConstraint(
            "org_id",
            "seq",
            name=op.f("uq_audit_logs_org_id_seq"),
            postgresql_nulls_not_distinct=True,
        ),
        schema="audit",
    )
    op.create_index("ix_audit_logs_action", "audit_logs", ["action"], unique=False, schema="audit")
    op.create_index(
        "ix_audit_logs_actor_id",
        "audit_logs",
        ["actor_id"],
        unique=False,
        schema="audit",
    )
    op.create_index(
        "ix_audit_logs_org_id_occurred_at",
        "audit_logs",
        ["org_id", "occurred_at"],
        unique=False,
        schema="audit",
    )
    op.create_index(
        "ix_audit_logs_target_id",
        "audit_logs",
        ["target_id"],
        unique=False,
        schema="audit",
    )
    op.create_table(
        "audit_outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.Uuid(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'in_flight', 'delivered', 'failed', 'dead')",
            name=op.f("ck_audit_outbox_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_outbox_event_id")),
        schema="audit",
    )
    op.create_index(
        "ix_audit_outbox_due",
        "audit_outbox",
        ["id"],
        unique=False,
        schema="audit",
        postgresql_where=sa.text("status IN ('pending', 'failed')"),
    )
    op.create_index(
        "ix_audit_outbox_leased",
        "audit_outbox",
        ["lease_expires_at"],
        unique=False,
        schema="audit",
        postgresql_where=sa.text("status = 'in_flight'"),
    )
    op.create_table(
        "audit_retention_policies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("tier", sa.Text(), nullable=True),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column(
            "archive_before_delete",
            sa.Boolean(),
            server_default=sa.text("true"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(org_id IS NULL) <> (tier IS NULL)",
            name=op.f("ck_audit_retention_policies_org_or_tier"),
        ),
        sa.CheckConstraint(
            "retention_days > 0",
            name=op.f("ck_audit_retention_policies_retention_days_positive"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_retention_policies")),
        sa.UniqueConstraint("org_id", name=op.f("uq_audit_retention_policies_org_id")),
        sa.UniqueConstraint("tier", name=op.f("uq_audit_retention_policies_tier")),
        schema="audit",
    )
    for statement in APPEND_ONLY:
        op.execute(statement)
    add_updated_at_trigger("audit", "audit_retention_policies")
    add_updated_at_trigger("audit", "audit_legal_holds")


def downgrade() -> None:
    op.execute("DROP TRIGGER trg_audit_logs_no_truncate ON audit.audit_logs")
    op.execute("DROP TRIGGER trg_audit_logs_append_only ON audit.audit_logs")
    op.execute("DROP FUNCTION audit.reject_log_change()")
    op.drop_table("audit_retention_policies", schema="audit")
    op.drop_index(
        "ix_audit_outbox_leased",
        table_name="audit_outbox",
        schema="audit",
        postgresql_where=sa.text("status = 'in_flight'"),
    )
    op.drop_index(
        "ix_audit_outbox_due",
        table_name="audit_outbox",
        schema="audit",
        postgresql_where=sa.text("status IN ('pending', 'failed')"),
    )
    op.drop_table("audit_outbox", schema="audit")
    op.drop_index("ix_audit_logs_target_id", table_name="audit_logs", schema="audit")
    op.drop_index("ix_audit_logs_org_id_occurred_at", table_name="audit_logs", schema="audit")
    op.drop_index("ix_audit_logs_actor_id", table_name="audit_logs", schema="audit")
    op.drop_index("ix_audit_logs_action", table_name="audit_logs", schema="audit")
    op.drop_table("audit_logs", schema="audit")
    op.drop_index(
        op.f("ix_audit_legal_holds_org_id"),
        table_name="audit_legal_holds",
        schema="audit",
    )
    op.drop_table("audit_legal_holds", schema="audit")
    op.drop_table("audit_chain_heads", schema="audit")
    op.drop_index(
        op.f("ix_audit_archive_manifest_org_id"),
        table_name="audit_archive_manifest",
        schema="audit",
    )
    op.drop_table("audit_archive_manifest", schema="audit")
