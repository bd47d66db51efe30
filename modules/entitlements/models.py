"""entitlements's tables (schema `entitlements`). Private to the module.

Catalog (resource_keys, entitlement_sets, entitlement_set_rules) is platform-wide; everything
else belongs to one organization and carries `org_id`. boolean_entitlements and
numeric_entitlements are materialized from provisions so a check is one indexed read."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.core.ids import uuid7
from platform_core.persistence.db import Base, Timestamped

SCHEMA = "entitlements"

RESOURCE_KINDS = ("boolean", "numeric", "config")
AGGREGATIONS = ("SUM", "COUNT", "AVERAGE", "MAX", "MIN", "LATEST")
RULE_TYPES = ("boolean", "limit", "quota", "credit")
NUMERIC_KINDS = ("limit", "quota", "credit")
RESET_PERIODS = ("none", "day", "week", "month", "year", "billing_period")
ENFORCEMENTS = ("hard", "soft")
SOURCE_TYPES = ("subscription", "purchase", "grant")
PROVISION_STATUSES = ("active", "ended", "revoked")
CYCLE_INTERVALS = ("day", "week", "month", "year")
USAGE_STATUSES = ("accepted", "rejected")

KEY_PATTERN = "^[a-z][a-z0-9_.:-]{0,99}$"

ORG_FK = "organization.organizations.id"
WORKSPACE_FK = "organization.workspaces.id"


def _org_fk() -> Any:
    return ForeignKey(ORG_FK, ondelete="CASCADE")


class ResourceKey(Timestamped, Base):
    __tablename__ = "resource_keys"
    __table_args__ = (
        CheckConstraint(f"key ~ '{KEY_PATTERN}'", name="key_format"),
        CheckConstraint(f"kind IN {RESOURCE_KINDS}", name="kind"),
        CheckConstraint(f"aggregation IS NULL OR aggregation IN {AGGREGATIONS}", name="aggregation"),
        CheckConstraint("(kind = 'numeric') = (aggregation IS NOT NULL)", name="numeric_has_aggregation"),
        CheckConstraint("(kind = 'config') = (default_value IS NOT NULL)", name="config_has_value"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 200", name="name_length"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    key: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(Text)
    aggregation: Mapped[str | None] = mapped_column(Text)
    default_value: Mapped[Any | None] = mapped_column(JSONB(none_as_null=True))
    created_by: Mapped[str | None] = mapped_column(Text)


class EntitlementSet(Timestamped, Base):
    """One immutable version of a named bundle; editing inserts (key, version + 1)."""

    __tablename__ = "entitlement_sets"
    __table_args__ = (
        UniqueConstraint("key", "version"),
        CheckConstraint(f"key ~ '{KEY_PATTERN}'", name="key_format"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 200", name="name_length"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    key: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(Text)


class EntitlementSetRule(Base):
    __tablename__ = "entitlement_set_rules"
    __table_args__ = (
        UniqueConstraint("set_id", "resource_key_id"),
        CheckConstraint(f"rule_type IN {RULE_TYPES}", name="rule_type"),
        CheckConstraint(f"reset_period IN {RESET_PERIODS}", name="reset_period"),
        CheckConstraint(f"enforcement IN {ENFORCEMENTS}", name="enforcement"),
        CheckConstraint("(rule_type = 'boolean') = (amount IS NULL)", name="numeric_has_amount"),
        CheckConstraint("amount IS NULL OR amount >= 0", name="amount_not_negative"),
        CheckConstraint("rule_type = 'boolean' OR value IS NULL", name="value_only_boolean"),
        CheckConstraint("(rule_type = 'quota') = (reset_period <> 'none')", name="quota_resets"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.entitlement_sets.id", ondelete="CASCADE")
    )
    resource_key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.resource_keys.id"), index=True
    )
    rule_type: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal | None] = mapped_column(Numeric)
    value: Mapped[Any | None] = mapped_column(JSONB(none_as_null=True))
    reset_period: Mapped[str] = mapped_column(Text, server_default="none")
    enforcement: Mapped[str] = mapped_column(Text, server_default="hard")
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class ResourcePool(Timestamped, Base):
    __tablename__ = "resource_pools"
    __table_args__ = (
        UniqueConstraint("org_id", "name"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 200", name="name_length"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(_org_fk())
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(Text)


class PoolAssignment(Timestamped, Base):
    """A workspace uses exactly one pool's capabilities (unique workspace_id)."""

    __tablename__ = "pool_assignments"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(_org_fk(), index=True)
    pool_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.resource_pools.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(WORKSPACE_FK, ondelete="CASCADE"), unique=True)
    created_by: Mapped[str | None] = mapped_column(Text)


class PoolOndemandConfig(Timestamped, Base):
    __tablename__ = "pool_ondemand_config"
    __table_args__ = (
        UniqueConstraint("pool_id", "resource_key_id"),
        CheckConstraint("cap IS NULL OR cap >= 0", name="cap_not_negative"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(_org_fk(), index=True)
    pool_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.resource_pools.id", ondelete="CASCADE")
    )
    resource_key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.resource_keys.id"), index=True
    )
    enabled: Mapped[bool]
    price_ref: Mapped[str | None] = mapped_column(Text)
    cap: Mapped[Decimal | None] = mapped_column(Numeric)


class Grant(Timestamped, Base):
    """Non-commercial provisioning (support credit, partner access): always time-boxed."""

    __tablename__ = "grants"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="window"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("char_length(reason) BETWEEN 1 AND 1000", name="reason_length"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(_org_fk(), index=True)
    pool_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.resource_pools.id", ondelete="CASCADE"), index=True
    )
    entitlement_set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.entitlement_sets.id"), index=True
    )
    quantity: Mapped[Decimal] = mapped_column(Numeric)
    reason: Mapped[str] = mapped_column(Text)
    granted_by: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(Text)
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class PoolProvision(Timestamped, Base):
    """Why a pool has capacity. `source_id` names the subscription item, purchase or grant, and
    the column of that source (`subscription_item_id`, `purchase_id`, `grant_id`) repeats it
    with a foreign key, so no provision claims a source that does not exist
    (entitlements_0030_provision_sources, ADR 0020). Entitlements' code never reads billing's
    tables through these keys: they are integrity, not a way in."""

    __tablename__ = "pool_provisions"
    __table_args__ = (
        UniqueConstraint("source_type", "source_id"),
        CheckConstraint(f"source_type IN {SOURCE_TYPES}", name="source_type"),
        CheckConstraint(f"status IN {PROVISION_STATUSES}", name="status"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="window"),
        CheckConstraint("(source_type = 'grant') = (grant_id IS NOT NULL)", name="grant_source"),
        CheckConstraint("grant_id IS NULL OR grant_id = source_id", name="grant_is_source"),
        # billing's sources (entitlements_0030_provision_sources)
        CheckConstraint(
            "(source_type = 'subscription') = (subscription_item_id IS NOT NULL)", name="subscription_source"
        ),
        CheckConstraint(
            "subscription_item_id IS NULL OR subscription_item_id = source_id", name="subscription_is_source"
        ),
        CheckConstraint("(source_type = 'purchase') = (purchase_id IS NOT NULL)", name="purchase_source"),
        CheckConstraint("purchase_id IS NULL OR purchase_id = source_id", name="purchase_is_source"),
        CheckConstraint("(status = 'active') = (ended_at IS NULL)", name="ended_at_status"),
        CheckConstraint(
            "(cycle_anchor IS NULL) = (cycle_interval IS NULL)"
            " AND (cycle_interval IS NULL) = (cycle_interval_count IS NULL)",
            name="cycle_complete",
        ),
        CheckConstraint(
            f"cycle_interval IS NULL OR cycle_interval IN {CYCLE_INTERVALS}", name="cycle_interval"
        ),
        CheckConstraint("cycle_interval_count IS NULL OR cycle_interval_count >= 1", name="cycle_count"),
        Index("ix_pool_provisions_pool_id_status", "pool_id", "status"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(_org_fk(), index=True)
    pool_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.resource_pools.id", ondelete="CASCADE")
    )
    source_type: Mapped[str] = mapped_column(Text)
    source_id: Mapped[uuid.UUID]
    grant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("entitlements.grants.id", ondelete="CASCADE"), index=True
    )
    subscription_item_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.subscription_items.id", ondelete="RESTRICT"), index=True
    )
    purchase_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("billing.purchases.id", ondelete="RESTRICT"), index=True
    )
    entitlement_set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.entitlement_sets.id"), index=True
    )
    quantity: Mapped[Decimal] = mapped_column(Numeric)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(Text, server_default="active")
    ended_at: Mapped[datetime | None]
    cycle_anchor: Mapped[datetime | None]
    cycle_interval: Mapped[str | None] = mapped_column(Text)
    cycle_interval_count: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(Text)


class BooleanEntitlement(Timestamped, Base):
    """Materialized: is `resource_key` on for the pool (and with which config value)?
    `schedule` holds every future change, so expiry is exact at check time without a job."""

    __tablename__ = "boolean_entitlements"
    __table_args__ = (UniqueConstraint("pool_id", "resource_key_id"), {"schema": SCHEMA})

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(_org_fk(), index=True)
    pool_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.resource_pools.id", ondelete="CASCADE")
    )
    resource_key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.resource_keys.id"), index=True
    )
    enabled: Mapped[bool]
    value: Mapped[Any | None] = mapped_column(JSONB(none_as_null=True))
    next_change_at: Mapped[datetime | None] = mapped_column(index=True)
    schedule: Mapped[list[Any]] = mapped_column(JSONB, server_default="[]")


class NumericEntitlement(Timestamped, Base):
    """Materialized limit/quota/credit of a pool for one numeric resource key: `limit_amount`
    is the sum of contributions in force at materialization; `schedule` holds future changes.
    Rows are never deleted (usage history hangs off them); no contributions = limit 0."""

    __tablename__ = "numeric_entitlements"
    __table_args__ = (
        UniqueConstraint("pool_id", "resource_key_id"),
        CheckConstraint(f"kind IN {NUMERIC_KINDS}", name="kind"),
        CheckConstraint(f"aggregation IN {AGGREGATIONS}", name="aggregation"),
        CheckConstraint(f"reset_period IN {RESET_PERIODS}", name="reset_period"),
        CheckConstraint(f"enforcement IN {ENFORCEMENTS}", name="enforcement"),
        CheckConstraint("limit_amount >= 0", name="limit_not_negative"),
        CheckConstraint(
            f"cycle_interval IS NULL OR cycle_interval IN {CYCLE_INTERVALS}", name="cycle_interval"
        ),
        CheckConstraint(
            "reset_period <> 'billing_period' OR cycle_anchor IS NOT NULL", name="billing_period_has_cycle"
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(_org_fk(), index=True)
    pool_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.resource_pools.id", ondelete="CASCADE")
    )
    resource_key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.resource_keys.id"), index=True
    )
    kind: Mapped[str] = mapped_column(Text)
    aggregation: Mapped[str] = mapped_column(Text)
    reset_period: Mapped[str] = mapped_column(Text)
    enforcement: Mapped[str] = mapped_column(Text)
    cycle_anchor: Mapped[datetime | None]
    cycle_interval: Mapped[str | None] = mapped_column(Text)
    cycle_interval_count: Mapped[int | None] = mapped_column(Integer)
    limit_amount: Mapped[Decimal] = mapped_column(Numeric, server_default="0")
    next_change_at: Mapped[datetime | None] = mapped_column(index=True)
    schedule: Mapped[list[Any]] = mapped_column(JSONB, server_default="[]")


class NumericEntitlementContribution(Timestamped, Base):
    """One provision's share of a numeric entitlement: amount x quantity within its window."""

    __tablename__ = "numeric_entitlement_contributions"
    __table_args__ = (
        UniqueConstraint("provision_id", "numeric_entitlement_id"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="window"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(_org_fk(), index=True)
    numeric_entitlement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.numeric_entitlements.id", ondelete="CASCADE"), index=True
    )
    provision_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.pool_provisions.id", ondelete="CASCADE")
    )
    rule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.entitlement_set_rules.id"), index=True
    )
    amount: Mapped[Decimal] = mapped_column(Numeric)
    quantity: Mapped[Decimal] = mapped_column(Numeric)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]


class NumericEntitlementUsage(Timestamped, Base):
    """Running total of one numeric entitlement in one reset period (period_start = epoch and
    period_end NULL for entitlements that never reset). Updated under a row lock."""

    __tablename__ = "numeric_entitlement_usage"
    __table_args__ = (
        UniqueConstraint("numeric_entitlement_id", "period_start"),
        CheckConstraint("period_end IS NULL OR period_end > period_start", name="period"),
        CheckConstraint("event_count >= 0", name="event_count_not_negative"),
        CheckConstraint("overage >= 0 AND billed_overage >= 0", name="overage_not_negative"),
        CheckConstraint("billed_overage <= overage", name="billed_within_overage"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(_org_fk(), index=True)
    numeric_entitlement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.numeric_entitlements.id", ondelete="CASCADE")
    )
    period_start: Mapped[datetime]
    period_end: Mapped[datetime | None]
    used: Mapped[Decimal] = mapped_column(Numeric, server_default="0")
    sum_quantity: Mapped[Decimal] = mapped_column(Numeric, server_default="0")
    event_count: Mapped[int] = mapped_column(BigInteger, server_default="0")
    last_occurred_at: Mapped[datetime | None]
    overage: Mapped[Decimal] = mapped_column(Numeric, server_default="0")
    billed_overage: Mapped[Decimal] = mapped_column(Numeric, server_default="0")


class UsageEvent(Base):
    """Every consumption record, accepted or rejected (the usage trail). `event_id` is the
    client's and unique per organization, which makes ingestion idempotent. Accepted events
    are billed once, by the claim that sets `claimed_by` (services/usage_billing.py). Candidate for
    monthly partitioning by `received_at` when it grows (docs/performance.md)."""

    __tablename__ = "usage_events"
    __table_args__ = (
        UniqueConstraint("org_id", "event_id"),
        CheckConstraint(f"status IN {USAGE_STATUSES}", name="status"),
        CheckConstraint("(status = 'rejected') = (reason IS NOT NULL)", name="rejected_has_reason"),
        CheckConstraint("char_length(event_id) BETWEEN 1 AND 200", name="event_id_length"),
        CheckConstraint("overage IS NULL OR overage > 0", name="overage_positive"),
        Index("ix_usage_events_org_id_id", "org_id", "id"),
        Index("ix_usage_events_workspace_id_id", "workspace_id", "id"),
        # entitlements_0031_usage_billing: what billing has yet to claim, and what a claim took
        Index(
            "ix_usage_events_unclaimed",
            "pool_id",
            "resource_key",
            "occurred_at",
            postgresql_where=text("status = 'accepted' AND claimed_by IS NULL"),
        ),
        Index("ix_usage_events_claimed_by", "claimed_by", postgresql_where=text("claimed_by IS NOT NULL")),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(_org_fk())
    event_id: Mapped[str] = mapped_column(Text)
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(WORKSPACE_FK, ondelete="CASCADE"))
    resource_key: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric)
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    status: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    overage: Mapped[Decimal | None] = mapped_column(Numeric)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    # the pool the ingest attributed it to (no foreign key: a lock per event on the hot path)
    pool_id: Mapped[uuid.UUID | None]
    claimed_by: Mapped[uuid.UUID | None]  # the billing claim (metered-usage charge) that took it


SUSPENSION_REASONS = ("nonpayment",)


class PoolSuspension(Timestamped, Base):
    """A pool's capabilities withheld (e.g. billing's dunning for non-payment): checks and
    usage answer `suspended_for_<reason>` while `resumed_at` is NULL (at most one such row per
    pool). Provisions stay as they are, so resuming restores exactly what was there."""

    __tablename__ = "pool_suspensions"
    __table_args__ = (
        CheckConstraint(f"reason IN ('{SUSPENSION_REASONS[0]}')", name="reason"),
        CheckConstraint("resumed_at IS NULL OR resumed_at >= suspended_at", name="window"),
        Index(
            "uq_pool_suspensions_active", "pool_id", unique=True, postgresql_where=text("resumed_at IS NULL")
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(_org_fk(), index=True)
    pool_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("entitlements.resource_pools.id", ondelete="CASCADE")
    )
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)  # who suspended it, e.g. "billing_account:<id>"
    suspended_at: Mapped[datetime]
    resumed_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(Text)
