"""audit's public data."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec


class AuditActor(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    id: str | None
    name: str | None


class AuditTarget(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    id: str
    name: str | None


class AuditLogDTO(msgspec.Struct, frozen=True, kw_only=True):
    """One audit record; field names follow Retraced's event shape where they overlap."""

    id: int
    event_id: uuid.UUID
    org_id: uuid.UUID | None
    seq: int
    action: str
    crud: str
    outcome: str
    actor: AuditActor
    target: AuditTarget
    source_ip: str | None
    user_agent: str | None
    metadata: dict[str, Any]
    occurred_at: datetime
    recorded_at: datetime
    prev_hash: str | None
    hash: str


class ChainBreak(msgspec.Struct, frozen=True, kw_only=True):
    org_id: uuid.UUID | None
    seq: int
    reason: str


class VerifyResult(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    checked: int  # records whose links were recomputed
    chains: int
    archived: int = 0  # records removed by retention, accounted for by archive manifests
    first_break: ChainBreak | None = None


# Retention (operators). Events of these actions are themselves audited.
RETENTION_POLICY_SET = "audit.retention_policy.set"
RETENTION_POLICY_DELETED = "audit.retention_policy.deleted"
LEGAL_HOLD_PLACED = "audit.legal_hold.placed"
LEGAL_HOLD_RELEASED = "audit.legal_hold.released"
RECORDS_ARCHIVED = "audit.records.archived"

# Policy tiers until organizations have plans: `default` covers every organization's chain
# without a policy of its own, `platform` the platform chain (records with no organization).
RETENTION_TIERS = ("default", "platform")


class RetentionPolicyDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID | None
    tier: str | None
    retention_days: int
    archive_before_delete: bool
    created_at: datetime
    updated_at: datetime


class LegalHoldDTO(msgspec.Struct, frozen=True, kw_only=True):
    """Records matching every set field (organization, actor, occurred_at in [starts_at,
    ends_at)) are kept, whatever the retention policy, until the hold is released."""

    id: uuid.UUID
    org_id: uuid.UUID | None
    actor_id: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    reason: str
    placed_by: str | None
    released_at: datetime | None
    created_at: datetime


class ArchiveDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID | None
    seq_from: int
    seq_to: int
    row_count: int
    range_start: datetime
    range_end: datetime
    sha256: str | None  # None: deleted without an archive file
    location: str | None
    prev_hash: str | None
    last_hash: str
    created_at: datetime
