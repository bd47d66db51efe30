"""Materialization: recompute a pool's boolean and numeric entitlements from its provisions.

Runs in the transaction that starts, changes, ends or revokes a provision, with the pool's row
locked so two provision changes of one pool serialize. Each numeric entitlement's limit is the
sum of its contributions (rule amount x provision quantity) in force; contributions are
rewritten from the active provisions, so removing a provision removes exactly its share. The
schedule keeps future changes (a provision that starts or ends later), which makes expiry exact
at check time before any job re-materializes."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, or_, select, update

from modules.entitlements.contracts import PROVISION_ENDED
from modules.entitlements.models import (
    BooleanEntitlement,
    EntitlementSetRule,
    NumericEntitlement,
    NumericEntitlementContribution,
    PoolProvision,
    ResourceKey,
    ResourcePool,
)
from modules.entitlements.services import schedule
from modules.entitlements.services.check import invalidate_pools
from modules.entitlements.services.schedule import Window
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork


@dataclass
class _NumericPlan:
    key: str
    aggregation: str
    meta: tuple[str, str, str, Any] | None = None  # kind, reset, enforcement, cycle
    contributions: list[tuple[PoolProvision, EntitlementSetRule]] = field(default_factory=list)


async def lock_pool(uow: UnitOfWork, pool_id: uuid.UUID, org_id: uuid.UUID | None = None) -> ResourcePool:
    stmt = select(ResourcePool).where(ResourcePool.id == pool_id).with_for_update()
    if org_id is not None:
        stmt = stmt.where(ResourcePool.org_id == org_id)
    pool = await uow.session.scalar(stmt)
    if pool is None:
        raise NotFound(f"pool {pool_id} does not exist", code="pool_not_found")
    return pool


def _cycle(p: PoolProvision) -> tuple[datetime, str, int] | None:
    if p.cycle_anchor is None or p.cycle_interval is None or p.cycle_interval_count is None:
        return None
    return (p.cycle_anchor, p.cycle_interval, p.cycle_interval_count)


async def materialize_pool(uow: UnitOfWork, pool: ResourcePool) -> None:
    """Recompute every entitlement of `pool` (whose row the caller has locked)."""
    now = utcnow()
    rows = await uow.session.execute(
        select(PoolProvision, EntitlementSetRule, ResourceKey)
        .join(EntitlementSetRule, EntitlementSetRule.set_id == PoolProvision.entitlement_set_id)
        .join(ResourceKey, ResourceKey.id == EntitlementSetRule.resource_key_id)
        .where(
            PoolProvision.pool_id == pool.id,
            PoolProvision.status == "active",
            or_(PoolProvision.ends_at.is_(None), PoolProvision.ends_at > now),
        )
        .order_by(PoolProvision.starts_at, PoolProvision.id)
    )
    numeric: dict[uuid.UUID, _NumericPlan] = {}
    flags: dict[uuid.UUID, list[Window]] = defaultdict(list)
    for prov, rule, rk in rows:
        if rk.kind == "numeric":
            assert rk.aggregation is not None
            plan = numeric.setdefault(rk.id, _NumericPlan(rk.key, rk.aggregation))
            cycle = _cycle(prov) if rule.reset_period == "billing_period" else None
            meta = (rule.rule_type, rule.reset_period, rule.enforcement, cycle)
            if plan.meta is not None and plan.meta != meta:
                raise Conflict(
                    f"provisions of this pool disagree on how {rk.key!r} is limited "
                    f"(rule type, reset period, enforcement or billing cycle)",
                    code="conflicting_rules",
                )
            plan.meta = meta
            plan.contributions.append((prov, rule))
        else:
            value = rule.value if rule.value is not None else rk.default_value
            flags[rk.id].append(Window(prov.starts_at, prov.ends_at, value, (prov.id.bytes,)))
    await _write_numeric(uow, pool, numeric, now)
    await _write_boolean(uow, pool, flags, now)
    await invalidate_pools(uow, [pool.id])


async def _write_numeric(
    uow: UnitOfWork, pool: ResourcePool, plans: dict[uuid.UUID, _NumericPlan], now: datetime
) -> None:
    existing = {
        ne.resource_key_id: ne
        for ne in await uow.session.scalars(
            select(NumericEntitlement).where(NumericEntitlement.pool_id == pool.id)
        )
    }
    if existing:
        await uow.session.execute(
            delete(NumericEntitlementContribution).where(
                NumericEntitlementContribution.numeric_entitlement_id.in_([ne.id for ne in existing.values()])
            )
        )
    for rk_id, ne in existing.items():
        if rk_id not in plans:  # no provision grants it any more: keep the row (usage history)
            ne.limit_amount, ne.schedule, ne.next_change_at = Decimal(0), [], None
    for rk_id, plan in plans.items():
        assert plan.meta is not None
        kind, reset, enforcement, cycle = plan.meta
        windows = [
            Window(p.starts_at, p.ends_at, (rule.amount or Decimal(0)) * p.quantity)
            for p, rule in plan.contributions
        ]
        segments = schedule.build(windows, now, schedule.sum_limits)
        current = schedule.at(segments, now)
        found = existing.get(rk_id)
        if found is None:
            ne = NumericEntitlement(org_id=pool.org_id, pool_id=pool.id, resource_key_id=rk_id)
            uow.session.add(ne)
        else:
            ne = found
        ne.kind, ne.aggregation, ne.reset_period, ne.enforcement = kind, plan.aggregation, reset, enforcement
        ne.cycle_anchor, ne.cycle_interval, ne.cycle_interval_count = cycle or (None, None, None)
        ne.limit_amount = current.limit if current is not None and current.limit is not None else Decimal(0)
        ne.next_change_at = schedule.next_change(segments, now)
        ne.schedule = schedule.to_json(segments)
        await uow.session.flush()
        for p, rule in plan.contributions:
            uow.session.add(
                NumericEntitlementContribution(
                    org_id=pool.org_id,
                    numeric_entitlement_id=ne.id,
                    provision_id=p.id,
                    rule_id=rule.id,
                    amount=rule.amount,
                    quantity=p.quantity,
                    starts_at=p.starts_at,
                    ends_at=p.ends_at,
                )
            )
    await uow.session.flush()


async def _write_boolean(
    uow: UnitOfWork, pool: ResourcePool, flags: dict[uuid.UUID, list[Window]], now: datetime
) -> None:
    existing = {
        be.resource_key_id: be
        for be in await uow.session.scalars(
            select(BooleanEntitlement).where(BooleanEntitlement.pool_id == pool.id)
        )
    }
    for rk_id, be in existing.items():
        if rk_id not in flags:
            be.enabled, be.value, be.schedule, be.next_change_at = False, None, [], None
    for rk_id, windows in flags.items():
        segments = schedule.build(windows, now, schedule.latest_value)
        current = schedule.at(segments, now)
        found = existing.get(rk_id)
        if found is None:
            be = BooleanEntitlement(org_id=pool.org_id, pool_id=pool.id, resource_key_id=rk_id)
            uow.session.add(be)
        else:
            be = found
        be.enabled = current is not None
        be.value = current.value if current is not None else None
        be.next_change_at = schedule.next_change(segments, now)
        be.schedule = schedule.to_json(segments)
    await uow.session.flush()


async def rematerialize_due(uow: UnitOfWork, *, limit: int = 100) -> int:
    """Housekeeping: mark provisions whose end has passed as ended, and re-materialize pools
    whose schedule passed a boundary (checks and ingestion were already exact; this refreshes
    `limit_amount`/`enabled` and drops ended contributions). Returns the pools refreshed."""
    now = utcnow()
    ended = (
        await uow.session.execute(
            update(PoolProvision)
            .where(PoolProvision.status == "active", PoolProvision.ends_at <= now)
            .values(status="ended", ended_at=PoolProvision.ends_at)
            .returning(PoolProvision.id, PoolProvision.pool_id, PoolProvision.org_id)
        )
    ).all()
    for row in ended:
        await uow.emit(
            PROVISION_ENDED,
            subject=Subject(type="pool_provision", id=str(row.id)),
            data={"reason": "window_passed"},
            org_id=row.org_id,
        )
    due = select(NumericEntitlement.pool_id).where(NumericEntitlement.next_change_at <= now)
    due_b = select(BooleanEntitlement.pool_id).where(BooleanEntitlement.next_change_at <= now)
    pool_ids = set((await uow.session.scalars(due.union(due_b).limit(limit))).all())
    pool_ids |= {row.pool_id for row in ended}
    for pool_id in sorted(pool_ids):
        await materialize_pool(uow, await lock_pool(uow, pool_id))
    return len(pool_ids)
