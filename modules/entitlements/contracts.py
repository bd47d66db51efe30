"""entitlements's public data: DTOs and versioned events.

Quantities, limits and amounts are `Decimal` (PostgreSQL `numeric`); JSON carries them as
strings so no precision is lost on the way."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from platform_core.core.decimals import JSONDecimal

ResourceKind = Literal["boolean", "numeric", "config"]
Aggregation = Literal["SUM", "COUNT", "AVERAGE", "MAX", "MIN", "LATEST"]
RuleType = Literal["boolean", "limit", "quota", "credit"]
NumericKind = Literal["limit", "quota", "credit"]
ResetPeriod = Literal["none", "day", "week", "month", "year", "billing_period"]
Enforcement = Literal["hard", "soft"]
SourceType = Literal["subscription", "purchase", "grant"]
ProvisionStatus = Literal["active", "ended", "revoked"]
CycleInterval = Literal["day", "week", "month", "year"]
UsageStatus = Literal["accepted", "rejected"]
IngestStatus = Literal["accepted", "duplicate", "rejected"]
CheckKind = Literal["boolean", "config", "limit", "quota", "credit"]


# Decimal input (platform_core.core.decimals): each as the server bounds it.
class RuleAmount(JSONDecimal, minimum="0", below="1e15"):
    """A numeric rule's amount per unit of quantity."""


class CheckQuantity(JSONDecimal, minimum="0", below="1e15"):
    """How much more a check asks about."""


class ProvisionQuantity(JSONDecimal, positive=True, below="1e9"):
    """How many units of a set a provision or a grant gives."""


class Cap(JSONDecimal, minimum="0"):
    """An on-demand cap, in units per period."""


class UsageQuantity(JSONDecimal):
    """Any finite decimal: one outside 0..1e15 is rejected per event (`bad_quantity`)."""


# Events. Usage ingestion publishes only `USAGE_OVERAGE` (billable overage, aggregated per
# batch and entitlement period): usage_events itself is the trail of every accepted and
# rejected event, so one audit record per usage event would only duplicate it.
RESOURCE_KEY_CREATED = "entitlements.resource_key.created"
SET_VERSION_CREATED = "entitlements.set.version_created"
POOL_CREATED = "entitlements.pool.created"
POOL_ASSIGNED = "entitlements.pool.workspace_assigned"
POOL_UNASSIGNED = "entitlements.pool.workspace_unassigned"
ONDEMAND_CONFIGURED = "entitlements.ondemand.configured"
PROVISION_STARTED = "entitlements.provision.started"
PROVISION_CHANGED = "entitlements.provision.changed"
PROVISION_ENDED = "entitlements.provision.ended"
GRANT_CREATED = "entitlements.grant.created"
GRANT_REVOKED = "entitlements.grant.revoked"
USAGE_OVERAGE = "entitlements.usage.overage"
POOL_SUSPENDED = "entitlements.pool.suspended"
POOL_RESUMED = "entitlements.pool.resumed"
PROVISION_REINSTATED = "entitlements.provision.reinstated"


class ResourceKeyDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    key: str
    name: str
    description: str | None
    kind: ResourceKind
    unit: str | None
    aggregation: Aggregation | None
    default_value: Any = None
    created_at: datetime


class RuleSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One rule of a set: what it grants for one resource key. `amount` is per unit of the
    provision's quantity (numeric rules); `value` overrides a config key's default value."""

    resource_key: str
    rule_type: RuleType
    amount: RuleAmount | None = None
    value: Any = None
    reset_period: ResetPeriod = "none"
    enforcement: Enforcement = "hard"


class RuleDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    resource_key: str
    rule_type: RuleType
    amount: Decimal | None
    value: Any
    reset_period: ResetPeriod
    enforcement: Enforcement


class EntitlementSetDTO(msgspec.Struct, frozen=True, kw_only=True):
    """One immutable version of a set. Editing a set creates version + 1; provisions keep the
    version (`id`) they were made from."""

    id: uuid.UUID
    key: str
    version: int
    name: str
    description: str | None
    rules: list[RuleDTO]
    created_at: datetime


class PoolDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    description: str | None
    created_at: datetime


class PoolAssignmentDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID
    pool_id: uuid.UUID
    workspace_id: uuid.UUID
    created_at: datetime


class OndemandConfigDTO(msgspec.Struct, frozen=True, kw_only=True):
    """Usage past a soft limit becomes billable (published as `entitlements.usage.overage`) up
    to `cap` units per period (`None`: no cap)."""

    id: uuid.UUID
    org_id: uuid.UUID
    pool_id: uuid.UUID
    resource_key: str
    enabled: bool
    price_ref: str | None
    cap: Decimal | None
    updated_at: datetime


class BillingCycle(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The provision's billing cycle; periods are anchor + n x interval (month ends clamp)."""

    anchor: Annotated[datetime, msgspec.Meta(tz=True)]  # with its offset
    interval: CycleInterval
    interval_count: Annotated[int, msgspec.Meta(ge=1, le=36)] = 1


class ProvisionDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID
    pool_id: uuid.UUID
    source_type: SourceType
    source_id: uuid.UUID
    entitlement_set_id: uuid.UUID
    set_key: str
    set_version: int
    quantity: Decimal
    starts_at: datetime
    ends_at: datetime | None
    status: ProvisionStatus
    ended_at: datetime | None
    billing_cycle: BillingCycle | None


SuspensionReason = Literal["nonpayment"]


class PoolSuspensionDTO(msgspec.Struct, frozen=True, kw_only=True):
    """While a pool is suspended, checks and usage of its workspaces answer not allowed with
    reason `suspended_for_<reason>` (e.g. `suspended_for_nonpayment`)."""

    id: uuid.UUID
    org_id: uuid.UUID
    pool_id: uuid.UUID
    reason: SuspensionReason
    source: str | None
    suspended_at: datetime
    resumed_at: datetime | None


class GrantDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID
    pool_id: uuid.UUID
    entitlement_set_id: uuid.UUID
    set_key: str
    set_version: int
    quantity: Decimal
    reason: str
    granted_by: str | None
    starts_at: datetime
    ends_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None
    provision_id: uuid.UUID | None
    created_at: datetime


class Segment(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A stretch of time with one materialized value: `limit` for numeric entitlements, `value`
    (a config value, or None) for boolean ones. `start`/`end` None mean unbounded."""

    start: datetime | None = None
    end: datetime | None = None
    limit: Decimal | None = None
    value: Any = None


class NumericEntitlementDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    pool_id: uuid.UUID
    resource_key: str
    kind: NumericKind
    aggregation: Aggregation
    reset_period: ResetPeriod
    enforcement: Enforcement
    limit: Decimal
    next_change_at: datetime | None
    schedule: list[Segment]


class BooleanEntitlementDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    pool_id: uuid.UUID
    resource_key: str
    enabled: bool
    value: Any
    next_change_at: datetime | None
    schedule: list[Segment]


class PoolEntitlementsDTO(msgspec.Struct, frozen=True, kw_only=True):
    pool_id: uuid.UUID
    boolean: list[BooleanEntitlementDTO]
    numeric: list[NumericEntitlementDTO]


class CheckResult(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to "may this workspace use `key` (for `quantity` more)?"."""

    key: str
    allowed: bool
    kind: CheckKind | None
    limit: Decimal | None = None
    used: Decimal | None = None
    remaining: Decimal | None = None
    reset_at: datetime | None = None
    value: Any = None
    reason: str | None = None


class UsageEventIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One consumption record as a client sends it. `properties` is a JSON object (≤ 16 KiB);
    `occurred_at` (default: when received) decides the reset period the event counts in."""

    event_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    workspace: uuid.UUID
    resource_key: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    quantity: UsageQuantity
    occurred_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    properties: dict[str, Any] = {}


class UsageEventResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    event_id: str
    status: IngestStatus
    reason: str | None = None
    overage: Decimal | None = None


class IngestResult(msgspec.Struct, frozen=True, kw_only=True):
    accepted: int
    duplicates: int
    rejected: int
    results: list[UsageEventResult]


class UsageEventDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID
    event_id: str
    workspace_id: uuid.UUID | None
    resource_key: str
    quantity: Decimal
    occurred_at: datetime
    received_at: datetime
    status: UsageStatus
    reason: str | None
    overage: Decimal | None
    properties: dict[str, Any]


class UsageOverage(msgspec.Struct, frozen=True, kw_only=True):
    """Payload of `entitlements.usage.overage`: `quantity` newly billable units (past a soft
    limit, within the on-demand cap) for one entitlement period, from one ingested batch."""

    org_id: uuid.UUID
    pool_id: uuid.UUID
    numeric_entitlement_id: uuid.UUID
    resource_key: str
    period_start: datetime
    period_end: datetime | None
    quantity: Decimal
    billed_total: Decimal
    price_ref: str | None
    usage_event_ids: list[uuid.UUID]


# usage billing (entitlements_0031_usage_billing)
class ClaimedUsage(msgspec.Struct, frozen=True, kw_only=True):
    """A pool's accepted, not yet claimed usage of one resource key that occurred in
    [`since`, `until`): `quantity` aggregated per the key's `aggregation` over those events (0
    when there are none), and the events themselves. Returned by `claim_usage` (which marks
    them claimed by `claim_id`) and, without claiming, by `usage_to_bill`."""

    resource_key: str
    aggregation: Aggregation
    quantity: Decimal
    event_count: int
    usage_event_ids: list[uuid.UUID]
    claim_id: uuid.UUID | None = None
