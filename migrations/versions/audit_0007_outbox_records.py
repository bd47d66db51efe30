"""audit: outbox rows carry the audit record's columns; the database defines the canonical bytes

The relay used to decode each outbox row's event JSON in Python, re-encode it canonically and
COPY the result back. Now capture writes the record's columns, the database computes the
record's digest (SHA-256 of `audit.canonical_record(...)`) as a generated column, and the relay
moves rows into audit_logs in SQL. Links are SHA-256(prev_hash || seq (8 bytes, big-endian) ||
record digest). A claim no longer changes `status` (in flight = leased), and only id and status
are indexed with fillfactor 50, so that claims are HOT updates.

Chains written by the earlier format cannot be re-linked (the log is append-only), so this
revision refuses to run over a database that already holds audit records or undelivered outbox
rows; Keel had no release with the earlier format.

Revision ID: audit_0007_outbox_records
Revises: entitlements_0006_tables
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "audit_0007_outbox_records"
down_revision = "entitlements_0006_tables"
branch_labels = None
depends_on = None


# IMMUTABLE although jsonb_build_array is only STABLE (its timestamptz output follows the
# session's TimeZone): occurred_at is converted to UTC first, and jsonb's text form of a stored
# value is deterministic, so the bytes depend on the arguments alone. That lets the outbox keep
# the digest as a generated column.
CANONICAL_RECORD = """
CREATE FUNCTION audit.canonical_record(
    event_id uuid, org_id uuid, action text, crud text, outcome text,
    actor_type text, actor_id text, actor_name text,
    target_type text, target_id text, target_name text,
    source_ip inet, user_agent text, event_version integer, metadata jsonb,
    occurred_at timestamp with time zone
) RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT convert_to(jsonb_build_array(
        event_id, org_id, action, crud, outcome, actor_type, actor_id, actor_name,
        target_type, target_id, target_name, host(source_ip), user_agent, event_version, metadata,
        occurred_at AT TIME ZONE 'UTC')::text, 'UTF8')
$$"""


RECORD_DIGEST = (
    "sha256(audit.canonical_record(event_id, org_id, action, crud, outcome, actor_type, actor_id,"
    " actor_name, target_type, target_id, target_name, source_ip, user_agent, event_version, metadata,"
    " occurred_at))"
)


def refuse_unless_empty(direction: str) -> None:
    bind = op.get_bind()
    logs = bind.execute(sa.text("SELECT EXISTS (SELECT 1 FROM audit.audit_logs)")).scalar_one()
    pending = bind.execute(
        sa.text("SELECT EXISTS (SELECT 1 FROM audit.audit_outbox WHERE status <> 'dead')")
    ).scalar_one()
    if logs or pending:
        raise RuntimeError(
            f"audit_0007_outbox_records: cannot {direction} over existing audit records or an undrained "
            "audit outbox: the chain format changes. Start from an empty database (for `keel serve`: "
            "remove .keel/)."
        )


def upgrade() -> None:
    refuse_unless_empty("upgrade")
    op.execute("DROP TABLE audit.audit_outbox")
    op.execute(CANONICAL_RECORD)
    op.create_table(
        "audit_outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.Uuid(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
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
            "record_digest", sa.LargeBinary(), sa.Computed(RECORD_DIGEST, persisted=True), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed', 'dead')",
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
        schema="audit",
        postgresql_where=sa.text("status IN ('pending', 'failed')"),
    )
    # room on every page for the new versions of claimed rows (HOT updates)
    op.execute("ALTER TABLE audit.audit_outbox SET (fillfactor = 50)")


def downgrade() -> None:
    refuse_unless_empty("downgrade")
    op.execute("DROP TABLE audit.audit_outbox")
    op.execute("DROP FUNCTION audit.canonical_record")
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
            "next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.Uuid(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
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
        schema="audit",
        postgresql_where=sa.text("status IN ('pending', 'failed')"),
    )
    op.create_index(
        "ix_audit_outbox_leased",
        "audit_outbox",
        ["lease_expires_at"],
        schema="audit",
        postgresql_where=sa.text("status = 'in_flight'"),
    )
