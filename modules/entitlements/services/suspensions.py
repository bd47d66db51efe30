"""Suspensions: a pool's capabilities withheld as a whole (billing's dunning suspends the pools
of an account that has not paid). Nothing is ended or re-materialized: the check and usage
ingestion see the suspension through one join and answer `suspended_for_<reason>`, so
resuming restores exactly what the pool had, usage history and quotas included."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from modules.entitlements.contracts import POOL_RESUMED, POOL_SUSPENDED, PoolSuspensionDTO, SuspensionReason
from modules.entitlements.models import PoolSuspension
from modules.entitlements.services.check import invalidate_pools
from modules.entitlements.services.materialize import lock_pool
from platform_core.core.clock import utcnow
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork


def _dto(s: PoolSuspension) -> PoolSuspensionDTO:
    return PoolSuspensionDTO(
        id=s.id,
        org_id=s.org_id,
        pool_id=s.pool_id,
        reason=s.reason,  # type: ignore[arg-type]
        source=s.source,
        suspended_at=s.suspended_at,
        resumed_at=s.resumed_at,
    )


async def _active(uow: UnitOfWork, pool_id: uuid.UUID) -> PoolSuspension | None:
    return await uow.session.scalar(
        select(PoolSuspension)
        .where(PoolSuspension.pool_id == pool_id, PoolSuspension.resumed_at.is_(None))
        .execution_options(populate_existing=True)
    )


def _subject(s: PoolSuspension) -> Subject:
    return Subject(type="resource_pool", id=str(s.pool_id), name=f"suspended_for_{s.reason}")


async def suspend_pool(
    uow: UnitOfWork,
    pool_id: uuid.UUID,
    *,
    org_id: uuid.UUID,
    reason: SuspensionReason,
    source: str | None = None,
) -> PoolSuspensionDTO:
    """Suspend the pool (its row locked, so suspensions of one pool serialize). A pool already
    suspended stays suspended as it was (for whatever reason came first)."""
    await lock_pool(uow, pool_id, org_id)
    existing = await _active(uow, pool_id)
    if existing is not None:
        return _dto(existing)
    suspension = PoolSuspension(
        org_id=org_id,
        pool_id=pool_id,
        reason=reason,
        source=source,
        suspended_at=utcnow(),
        created_by=uow.actor.id,
    )
    uow.session.add(suspension)
    await uow.session.flush()
    await invalidate_pools(uow, [pool_id])
    dto = _dto(suspension)
    await uow.emit(POOL_SUSPENDED, subject=_subject(suspension), data=dto, org_id=org_id)
    return dto


async def resume_pool(
    uow: UnitOfWork, pool_id: uuid.UUID, *, org_id: uuid.UUID, reason: SuspensionReason
) -> PoolSuspensionDTO | None:
    """End the pool's suspension if it is suspended for `reason` (another reason's suspension
    is not this caller's to lift); None when there was nothing to resume."""
    await lock_pool(uow, pool_id, org_id)
    existing = await _active(uow, pool_id)
    if existing is None or existing.reason != reason:
        return None
    existing.resumed_at = max(utcnow(), existing.suspended_at)
    await uow.session.flush()
    await invalidate_pools(uow, [pool_id])
    dto = _dto(existing)
    await uow.emit(POOL_RESUMED, subject=_subject(existing), data=dto, org_id=org_id)
    return dto


async def pool_suspension(uow: UnitOfWork, pool_id: uuid.UUID) -> PoolSuspensionDTO | None:
    """The pool's suspension in force, if any."""
    existing = await _active(uow, pool_id)
    return _dto(existing) if existing is not None else None
