"""HTTP request bodies of entitlements's routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar

import msgspec

from modules.entitlements.contracts import (
    Aggregation,
    BillingCycle,
    Cap,
    CheckQuantity,
    ProvisionQuantity,
    ResourceKind,
    RuleSpec,
    UsageEventIn,
)

KEY_PATTERN = r"^[a-z][a-z0-9_.:-]{0,99}$"
Key = Annotated[str, msgspec.Meta(pattern=KEY_PATTERN)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Text = Annotated[str, msgspec.Meta(max_length=2000)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]


class CreateResourceKey(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # as services.catalog checks: a numeric key needs an aggregation, and a config key a
    # default_value (any JSON but null); other kinds take neither
    __json_schema_rules__: ClassVar[dict[str, Any]] = {
        "allOf": [
            {
                "if": {"properties": {"kind": {"const": "numeric"}}},
                "then": {"required": ["aggregation"], "properties": {"aggregation": {"type": "string"}}},
                "else": {"properties": {"aggregation": {"type": "null"}}},
            },
            {
                "if": {"properties": {"kind": {"const": "config"}}},
                "then": {
                    "required": ["default_value"],
                    "properties": {"default_value": {"not": {"type": "null"}}},
                },
                "else": {"properties": {"default_value": {"type": "null"}}},
            },
        ]
    }

    key: Key
    name: Name
    kind: ResourceKind
    unit: Annotated[str, msgspec.Meta(min_length=1, max_length=50)] | None = None
    aggregation: Aggregation | None = None
    default_value: Any = None
    description: Text | None = None


class Rules(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    description: Text | None = None
    rules: Annotated[list[RuleSpec], msgspec.Meta(max_length=200)]


class CreateSet(Rules, forbid_unknown_fields=True, kw_only=True):
    key: Key


class CreatePool(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    description: Text | None = None


class SetOndemand(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool
    price_ref: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    cap: Cap | None = None


class CreateGrant(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The set by id (an exact version) or by key (its latest version)."""

    # exactly one of the two
    __json_schema_rules__: ClassVar[dict[str, Any]] = {
        "if": {"required": ["entitlement_set_id"], "properties": {"entitlement_set_id": {"type": "string"}}},
        "then": {"properties": {"set_key": {"type": "null"}}},
        "else": {"required": ["set_key"], "properties": {"set_key": {"type": "string"}}},
    }

    pool_id: uuid.UUID
    reason: Reason
    ends_at: AwareTime
    entitlement_set_id: uuid.UUID | None = None
    set_key: Key | None = None
    starts_at: AwareTime | None = None
    quantity: ProvisionQuantity = ProvisionQuantity.default("1")
    # for sets whose quotas reset every billing period (entitlements_0030_provision_sources)
    billing_cycle: BillingCycle | None = None


class RevokeGrant(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Reason | None = None


class CreateProvision(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An operator's provision from a source that exists: a grant of the organization (ADR 0020).
    Subscriptions and purchases are provisioned by billing, in the transaction that creates
    them; a provision "for a subscription made elsewhere" is a grant."""

    source_type: Annotated[str, msgspec.Meta(pattern="^grant$")]
    source_id: uuid.UUID
    entitlement_set_id: uuid.UUID
    quantity: ProvisionQuantity = ProvisionQuantity.default("1")
    starts_at: AwareTime | None = None
    ends_at: AwareTime | None = None
    billing_cycle: BillingCycle | None = None


class UsageBatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    events: Annotated[list[UsageEventIn], msgspec.Meta(min_length=1, max_length=1000)]


class CheckItem(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    workspace: uuid.UUID
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    quantity: CheckQuantity | None = None


class CheckBatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    checks: Annotated[list[CheckItem], msgspec.Meta(min_length=1, max_length=100)]


class CheckBatchResult(msgspec.Struct, frozen=True, kw_only=True):
    results: list[Any]
