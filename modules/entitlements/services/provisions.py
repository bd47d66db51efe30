"""Provisions: why a pool has capacity. Billing (subscriptions, purchases) and grants all go
through `provision` / `change_provision` / `deprovision`, which re-materialize the pool in the
same transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from modules.entitlements.contracts import (
    PROVISION_CHANGED,
    PROVISION_ENDED,
    PROVISION_REINSTATED,
    PROVISION_STARTED,
    BillingCycle,
    ProvisionDTO,
)
from modules.entitlements.models import EntitlementSet, EntitlementSetRule, PoolProvision
from modules.entitlements.services.materialize import lock_pool, materialize_pool
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork

MAX_QUANTITY = Decimal("1e9")
_UNSET = datetime.min
FOREIGN_KEY_VIOLATION = "23503"


def _cycle_of(p: PoolProvision) -> BillingCycle | None:
    if p.cycle_anchor is None or p.cycle_interval is None:
        return None
    return BillingCycle(
        anchor=p.cycle_anchor,
        interval=p.cycle_interval,  # type: ignore[arg-type]
        interval_count=p.cycle_interval_count or 1,
    )


def _dto(p: PoolProvision, es: EntitlementSet) -> ProvisionDTO:
    cycle = _cycle_of(p)
    return ProvisionDTO(
        id=p.id,
        org_id=p.org_id,
        pool_id=p.pool_id,
        source_type=p.source_type,  # type: ignore[arg-type]
        source_id=p.source_id,
        entitlement_set_id=p.entitlement_set_id,
        set_key=es.key,
        set_version=es.version,
        quantity=p.quantity,
        starts_at=p.starts_at,
        ends_at=p.ends_at,
        status=p.status,  # type: ignore[arg-type]
        ended_at=p.ended_at,
        billing_cycle=cycle,
    )


def _check_quantity(quantity: Decimal) -> None:
    if not quantity.is_finite() or quantity <= 0 or quantity > MAX_QUANTITY:
        raise Unprocessable(
            "quantity must be a positive number up to 1e9",
            code="invalid_quantity",
            errors=[{"field": "quantity", "message": "out of range"}],
        )


async def _set(uow: UnitOfWork, set_id: uuid.UUID) -> EntitlementSet:
    es = await uow.session.get(EntitlementSet, set_id)
    if es is None:
        raise NotFound(f"entitlement set {set_id} does not exist", code="set_not_found")
    return es


async def _check_cycle(uow: UnitOfWork, set_id: uuid.UUID, cycle: BillingCycle | None) -> None:
    needs = await uow.session.scalar(
        select(EntitlementSetRule.id)
        .where(EntitlementSetRule.set_id == set_id, EntitlementSetRule.reset_period == "billing_period")
        .limit(1)
    )
    if needs is not None and cycle is None:
        raise Unprocessable(
            "the set has quotas that reset every billing period: a billing_cycle is required",
            code="billing_cycle_required",
            errors=[{"field": "billing_cycle", "message": "required"}],
        )
    if cycle is not None and (cycle.anchor.tzinfo is None or not 1 <= cycle.interval_count <= 36):
        raise Unprocessable("billing_cycle needs an aware anchor and 1..36 intervals", code="invalid_cycle")


def _check_window(starts_at: datetime, ends_at: datetime | None) -> None:
    if ends_at is not None and ends_at <= starts_at:
        raise Unprocessable(
            "ends_at must be after starts_at",
            code="invalid_window",
            errors=[{"field": "ends_at", "message": "not after starts_at"}],
        )


async def provision(
    uow: UnitOfWork,
    *,
    org_id: uuid.UUID,
    pool_id: uuid.UUID,
    source_type: str,
    source_id: uuid.UUID,
    entitlement_set_id: uuid.UUID,
    quantity: Decimal = Decimal(1),
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    billing_cycle: BillingCycle | None = None,
) -> ProvisionDTO:
    """Give `pool` the capabilities of one set version x quantity, from a source. Calling it
    again for the same source with the same terms returns the existing provision."""
    if source_type not in ("subscription", "purchase", "grant"):
        raise Unprocessable(f"unknown source_type {source_type!r}", code="invalid_source_type")
    pool = await lock_pool(uow, pool_id, org_id)
    es = await _set(uow, entitlement_set_id)
    _check_quantity(quantity)
    starts = starts_at or utcnow()
    _check_window(starts, ends_at)
    await _check_cycle(uow, entitlement_set_id, billing_cycle)
    existing = await uow.session.scalar(
        select(PoolProvision).where(
            PoolProvision.source_type == source_type, PoolProvision.source_id == source_id
        )
    )
    if existing is not None:
        same = (
            existing.pool_id == pool_id
            and existing.entitlement_set_id == entitlement_set_id
            and existing.quantity == quantity
            and existing.status == "active"
        )
        if same:
            return _dto(existing, es)
        raise Conflict(
            f"{source_type} {source_id} is already provisioned; use change_provision",
            code="already_provisioned",
        )
    prov = PoolProvision(
        org_id=pool.org_id,
        pool_id=pool_id,
        source_type=source_type,
        source_id=source_id,
        grant_id=source_id if source_type == "grant" else None,
        subscription_item_id=source_id if source_type == "subscription" else None,
        purchase_id=source_id if source_type == "purchase" else None,
        entitlement_set_id=entitlement_set_id,
        quantity=quantity,
        starts_at=starts,
        ends_at=ends_at,
        status="active",
        cycle_anchor=billing_cycle.anchor if billing_cycle else None,
        cycle_interval=billing_cycle.interval if billing_cycle else None,
        cycle_interval_count=billing_cycle.interval_count if billing_cycle else None,
        created_by=uow.actor.id,
    )
    await _insert(uow, prov)
    await materialize_pool(uow, pool)
    dto = _dto(prov, es)
    await uow.emit(PROVISION_STARTED, subject=_subject(prov), data=dto, org_id=pool.org_id)
    return dto


async def _insert(uow: UnitOfWork, prov: PoolProvision) -> None:
    """Insert under a savepoint: a source that does not exist (its foreign key) is the caller's
    mistake, answered 422, and leaves the transaction usable."""
    try:
        async with uow.session.begin_nested():
            uow.session.add(prov)
            await uow.session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) != FOREIGN_KEY_VIOLATION:
            raise
        raise Unprocessable(
            f"{prov.source_type} {prov.source_id} does not exist",
            code="provision_source_not_found",
            errors=[{"field": "source_id", "message": f"no such {prov.source_type}"}],
        ) from exc


def _subject(p: PoolProvision) -> Subject:
    return Subject(type="pool_provision", id=str(p.id), name=f"{p.source_type}:{p.source_id}")


async def _for_change(uow: UnitOfWork, provision_id: uuid.UUID, org_id: uuid.UUID | None) -> PoolProvision:
    stmt = select(PoolProvision.pool_id).where(PoolProvision.id == provision_id)
    if org_id is not None:
        stmt = stmt.where(PoolProvision.org_id == org_id)
    pool_id = await uow.session.scalar(stmt)
    if pool_id is None:
        raise NotFound(f"provision {provision_id} does not exist", code="provision_not_found")
    await lock_pool(uow, pool_id)
    prov = await uow.session.get(PoolProvision, provision_id, populate_existing=True)
    assert prov is not None
    return prov


async def change_provision(
    uow: UnitOfWork,
    provision_id: uuid.UUID,
    *,
    org_id: uuid.UUID | None = None,
    entitlement_set_id: uuid.UUID | None = None,
    quantity: Decimal | None = None,
    ends_at: datetime | None = _UNSET,
    billing_cycle: BillingCycle | None = None,
) -> ProvisionDTO:
    """Change the set version, quantity, end or billing cycle of an active provision."""
    prov = await _for_change(uow, provision_id, org_id)
    if prov.status != "active":
        raise Conflict(f"provision {provision_id} has {prov.status}", code="provision_not_active")
    before = _dto(prov, await _set(uow, prov.entitlement_set_id))
    if entitlement_set_id is not None:
        await _set(uow, entitlement_set_id)
        prov.entitlement_set_id = entitlement_set_id
    if quantity is not None:
        _check_quantity(quantity)
        prov.quantity = quantity
    if ends_at is not _UNSET:
        _check_window(prov.starts_at, ends_at)
        prov.ends_at = ends_at
    if billing_cycle is not None:
        prov.cycle_anchor = billing_cycle.anchor
        prov.cycle_interval = billing_cycle.interval
        prov.cycle_interval_count = billing_cycle.interval_count
    current = _cycle_of(prov)
    await _check_cycle(uow, prov.entitlement_set_id, current)
    await uow.session.flush()
    pool = await lock_pool(uow, prov.pool_id)
    await materialize_pool(uow, pool)
    dto = _dto(prov, await _set(uow, prov.entitlement_set_id))
    await uow.emit(
        PROVISION_CHANGED,
        subject=_subject(prov),
        data={"before": before, "after": dto},
        org_id=prov.org_id,
    )
    return dto


async def deprovision(
    uow: UnitOfWork,
    provision_id: uuid.UUID,
    *,
    org_id: uuid.UUID | None = None,
    at: datetime | None = None,
    revoke: bool = False,
) -> ProvisionDTO:
    """End a provision now (or at a future `at`, e.g. the end of the paid period). `revoke`
    marks an early, involuntary end (a revoked grant). Ending twice is a no-op."""
    prov = await _for_change(uow, provision_id, org_id)
    es = await _set(uow, prov.entitlement_set_id)
    if prov.status != "active":
        return _dto(prov, es)
    now = utcnow()
    when = at or now
    if when > now:
        _check_window(prov.starts_at, when)
        prov.ends_at = when if prov.ends_at is None else min(prov.ends_at, when)
    else:
        prov.status = "revoked" if revoke else "ended"
        prov.ended_at = now
        if when > prov.starts_at and (prov.ends_at is None or when < prov.ends_at):
            prov.ends_at = when
    await uow.session.flush()
    await materialize_pool(uow, await lock_pool(uow, prov.pool_id))
    dto = _dto(prov, es)
    await uow.emit(PROVISION_ENDED, subject=_subject(prov), data=dto, org_id=prov.org_id)
    return dto


async def reinstate_provision(
    uow: UnitOfWork, provision_id: uuid.UUID, *, org_id: uuid.UUID | None = None
) -> ProvisionDTO:
    """Undo an involuntary end: an `ended` provision is active again, open-ended, from now on
    (billing restores a subscription canceled for non-payment once it is paid). A revoked one
    stays revoked; an active one is returned as it is."""
    prov = await _for_change(uow, provision_id, org_id)
    es = await _set(uow, prov.entitlement_set_id)
    if prov.status == "active":
        return _dto(prov, es)
    if prov.status != "ended":
        raise Conflict(f"provision {provision_id} was {prov.status}", code="provision_not_reinstatable")
    prov.status, prov.ended_at, prov.ends_at = "active", None, None
    await uow.session.flush()
    await materialize_pool(uow, await lock_pool(uow, prov.pool_id))
    dto = _dto(prov, es)
    await uow.emit(PROVISION_REINSTATED, subject=_subject(prov), data=dto, org_id=prov.org_id)
    return dto


async def get_provision(
    uow: UnitOfWork, provision_id: uuid.UUID, org_id: uuid.UUID | None = None
) -> ProvisionDTO:
    stmt = select(PoolProvision, EntitlementSet).join(
        EntitlementSet, EntitlementSet.id == PoolProvision.entitlement_set_id
    )
    stmt = stmt.where(PoolProvision.id == provision_id)
    if org_id is not None:
        stmt = stmt.where(PoolProvision.org_id == org_id)
    row = (await uow.session.execute(stmt)).first()
    if row is None:
        raise NotFound(f"provision {provision_id} does not exist", code="provision_not_found")
    return _dto(row[0], row[1])


async def find_provision(uow: UnitOfWork, source_type: str, source_id: uuid.UUID) -> ProvisionDTO | None:
    """The provision made for a subscription, purchase or grant, if any."""
    row = (
        await uow.session.execute(
            select(PoolProvision, EntitlementSet)
            .join(EntitlementSet, EntitlementSet.id == PoolProvision.entitlement_set_id)
            .where(PoolProvision.source_type == source_type, PoolProvision.source_id == source_id)
        )
    ).first()
    return _dto(row[0], row[1]) if row else None


async def list_provisions(uow: UnitOfWork, org_id: uuid.UUID, pool_id: uuid.UUID) -> list[ProvisionDTO]:
    rows = await uow.session.execute(
        select(PoolProvision, EntitlementSet)
        .join(EntitlementSet, EntitlementSet.id == PoolProvision.entitlement_set_id)
        .where(PoolProvision.org_id == org_id, PoolProvision.pool_id == pool_id)
        .order_by(PoolProvision.starts_at, PoolProvision.id)
    )
    return [_dto(p, es) for p, es in rows]
