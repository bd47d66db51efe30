"""HTTP request bodies of audit's retention routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import msgspec

Days = Annotated[int, msgspec.Meta(ge=1, le=36500)]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]


class SetRetentionPolicy(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """For one organization (`org_id`) or a tier (`tier`), not both."""

    __json_schema_rules__: ClassVar[dict[str, Any]] = {
        "if": {"required": ["org_id"], "properties": {"org_id": {"type": "string"}}},
        "then": {"properties": {"tier": {"type": "null"}}},
        "else": {"required": ["tier"], "properties": {"tier": {"type": "string"}}},
    }

    org_id: uuid.UUID | None = None
    tier: Literal["default", "platform"] | None = None
    retention_days: Days
    archive_before_delete: bool = True


class PlaceLegalHold(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    org_id: uuid.UUID | None = None
    actor_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    starts_at: AwareTime | None = None
    ends_at: AwareTime | None = None
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
