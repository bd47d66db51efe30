"""audit's tables (schema `audit`). Private to the module."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.core.ids import uuid7
from platform_core.persistence.db import Base, Timestamped

SCHEMA = "audit"


RECORD_COLUMNS = (
    "event_id", "org_id", "action", "crud", "outcome", "actor_type", "actor_id", "actor_name",
    "target_type", "target_id", "target_name", "source_ip", "user_agent", "event_version", "metadata",
    "occurred_at",
)  # fmt: skip


def record_digest_sql(alias: str | None = None) -> str:
    """SQL for the SHA-256 of a record's canonical bytes (`audit.canonical_record`, defined by
    migration audit_0007_outbox_records) over the columns of row `alias`."""
    prefix = f"{alias}." if alias else ""
    return f"sha256(audit.canonical_record({', '.join(prefix + c for c in RECORD_COLUMNS)}))"


class AuditRecordColumns:
    """What an audit record says, shared by the outbox row that carries it and the log row it
    becomes: the relay moves these columns across in SQL, never through Python."""

    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    org_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(Text)
    crud: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text, server_default="success")
    actor_type: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[str | None] = mapped_column(Text)
    actor_name: Mapped[str | None] = mapped_column(Text)
    target_type: Mapped[str] = mapped_column(Text)
    target_id: Mapped[str] = mapped_column(Text)
    target_name: Mapped[str | None] = mapped_column(Text)
    source_ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)
    event_version: Mapped[int] = mapped_column(Integer)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB)
    occurred_at: Mapped[datetime]


class AuditOutbox(AuditRecordColumns, Base):
    """One audit record waiting for its place in a chain (see `services.capture`). The database
    computes `record_digest` when the row is written; the relay links it into the chain. Only
    `id` and `status` are indexed, and the table's fillfactor is 50 (migration), so that a
    relay's claim is a HOT update."""

    __tablename__ = "audit_outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'failed', 'dead')", name="status"),
        Index("ix_audit_outbox_due", "id", postgresql_where=text("status IN ('pending', 'failed')")),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    lease_expires_at: Mapped[datetime | None]
    claimed_by: Mapped[uuid.UUID | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    record_digest: Mapped[bytes] = mapped_column(LargeBinary, Computed(record_digest_sql(), persisted=True))


class AuditLog(AuditRecordColumns, Base):
    """Append-only (a trigger rejects UPDATE and DELETE). `seq` is gapless per organization
    (org_id NULL = the platform chain); `hash` = SHA-256(prev_hash || seq || canonical record),
    see `services.chain`."""

    __tablename__ = "audit_logs"
    __table_args__ = (
        UniqueConstraint("org_id", "seq", postgresql_nulls_not_distinct=True),
        CheckConstraint("crud IN ('c', 'r', 'u', 'd')", name="crud"),
        CheckConstraint("outcome IN ('success', 'failure')", name="outcome"),
        CheckConstraint("seq >= 1", name="seq_positive"),
        Index("ix_audit_logs_org_id_occurred_at", "org_id", "occurred_at"),
        Index("ix_audit_logs_action", "action"),
        Index("ix_audit_logs_actor_id", "actor_id"),
        Index("ix_audit_logs_target_id", "target_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    prev_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class AuditChainHead(Base):
    """The last link of each chain; locking it serialises appends to one chain."""

    __tablename__ = "audit_chain_heads"
    __table_args__ = {"schema": SCHEMA}

    chain_key: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, server_default="0")
    hash: Mapped[bytes | None] = mapped_column(LargeBinary)


class AuditRetentionPolicy(Timestamped, Base):
    __tablename__ = "audit_retention_policies"
    __table_args__ = (
        CheckConstraint("retention_days > 0", name="retention_days_positive"),
        CheckConstraint("(org_id IS NULL) <> (tier IS NULL)", name="org_or_tier"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    tier: Mapped[str | None] = mapped_column(Text, unique=True)
    retention_days: Mapped[int] = mapped_column(Integer)
    archive_before_delete: Mapped[bool] = mapped_column(server_default=text("true"))


class AuditLegalHold(Timestamped, Base):
    __tablename__ = "audit_legal_holds"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    actor_id: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str | None] = mapped_column(Text)
    released_at: Mapped[datetime | None]


class AuditArchiveManifest(Base):
    """One run of consecutive records of a chain removed by retention (see
    `services.retention`): its bounds, the links on either side, and the archive file, if
    one was written."""

    __tablename__ = "audit_archive_manifest"
    __table_args__ = (
        CheckConstraint("seq_to >= seq_from", name="seq_range"),
        CheckConstraint("row_count >= 0", name="row_count"),
        CheckConstraint("row_count = seq_to - seq_from + 1", name="contiguous"),
        CheckConstraint("(sha256 IS NULL) = (location IS NULL)", name="file"),
        UniqueConstraint("org_id", "seq_from", postgresql_nulls_not_distinct=True),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    range_start: Mapped[datetime]
    range_end: Mapped[datetime]
    seq_from: Mapped[int] = mapped_column(BigInteger)
    seq_to: Mapped[int] = mapped_column(BigInteger)
    row_count: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(Text)  # of the archive file's bytes
    location: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[bytes | None] = mapped_column(LargeBinary)  # the link before seq_from
    last_hash: Mapped[bytes] = mapped_column(LargeBinary)  # the hash of record seq_to
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
