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
    checked: int
    chains: int
    first_break: ChainBreak | None = None
