"""Resource pools of an organization, their workspace assignments and on-demand config."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import select

from modules.entitlements.contracts import (
    ONDEMAND_CONFIGURED,
    POOL_ASSIGNED,
    POOL_CREATED,
    POOL_UNASSIGNED,
    BooleanEntitlementDTO,
    NumericEntitlementDTO,
    OndemandConfigDTO,
    PoolAssignmentDTO,
    PoolDTO,
    PoolEntitlementsDTO,
)
from modules.entitlements.models import (
    BooleanEntitlement,
    NumericEntitlement,
    PoolAssignment,
    PoolOndemandConfig,
    ResourceKey,
    ResourcePool,
)
from modules.entitlements.services import orgs, schedule
from platform_core.core.errors import Conflict, NotFound, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of


def pool_dto(pool: ResourcePool) -> PoolDTO:
    return PoolDTO(
        id=pool.id,
        org_id=pool.org_id,
        name=pool.name,
        description=pool.description,
        created_at=pool.created_at,
    )


def _assignment_dto(a: PoolAssignment) -> PoolAssignmentDTO:
    return PoolAssignmentDTO(
        id=a.id, org_id=a.org_id, pool_id=a.pool_id, workspace_id=a.workspace_id, created_at=a.created_at
    )


async def get_pool_row(uow: UnitOfWork, org_id: uuid.UUID, pool_id: uuid.UUID) -> ResourcePool:
    pool = await uow.session.scalar(
        select(ResourcePool).where(ResourcePool.id == pool_id, ResourcePool.org_id == org_id)
    )
    if pool is None:
        raise NotFound(f"pool {pool_id} does not exist", code="pool_not_found")
    return pool


async def create_pool(uow: UnitOfWork, org_id: uuid.UUID, *, name: str, description: str | None) -> PoolDTO:
    await orgs.ensure_org(uow, org_id)
    taken = await uow.session.scalar(
        select(ResourcePool.id).where(ResourcePool.org_id == org_id, ResourcePool.name == name)
    )
    if taken is not None:
        raise Conflict(f"a pool named {name!r} already exists", code="pool_name_taken")
    pool = ResourcePool(org_id=org_id, name=name, description=description, created_by=uow.actor.id)
    uow.session.add(pool)
    await uow.session.flush()
    await uow.session.refresh(pool, ["created_at"])
    await uow.emit(
        POOL_CREATED, subject=Subject(type="resource_pool", id=str(pool.id), name=name), org_id=org_id
    )
    return pool_dto(pool)


async def get_pool(uow: UnitOfWork, org_id: uuid.UUID, pool_id: uuid.UUID) -> PoolDTO:
    return pool_dto(await get_pool_row(uow, org_id, pool_id))


async def list_pools(uow: UnitOfWork, org_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page[PoolDTO]:
    stmt = keyset(
        select(ResourcePool).where(ResourcePool.org_id == org_id),
        [ResourcePool.id.expression],
        cursor=cursor,
        limit=limit,
    )
    return page_of((await uow.session.scalars(stmt)).all(), limit, lambda p: [str(p.id)], pool_dto)


async def assign_workspace(
    uow: UnitOfWork, org_id: uuid.UUID, pool_id: uuid.UUID, workspace_id: uuid.UUID
) -> PoolAssignmentDTO:
    """Make `workspace_id` use `pool_id`; a workspace uses one pool, so this moves it."""
    await get_pool_row(uow, org_id, pool_id)
    if not await orgs.workspace_in_org(uow, org_id, workspace_id):
        raise NotFound(f"workspace {workspace_id} does not exist", code="workspace_not_found")
    current = await uow.session.scalar(
        select(PoolAssignment).where(PoolAssignment.workspace_id == workspace_id).with_for_update()
    )
    if current is not None and current.pool_id == pool_id:
        return _assignment_dto(current)
    if current is None:
        current = PoolAssignment(
            org_id=org_id, pool_id=pool_id, workspace_id=workspace_id, created_by=uow.actor.id
        )
        uow.session.add(current)
    else:
        current.pool_id = pool_id
    await uow.session.flush()
    await uow.session.refresh(current, ["created_at"])
    await uow.emit(
        POOL_ASSIGNED,
        subject=Subject(type="workspace", id=str(workspace_id)),
        data={"pool_id": str(pool_id), "workspace_id": str(workspace_id)},
        org_id=org_id,
    )
    return _assignment_dto(current)


async def unassign_workspace(
    uow: UnitOfWork, org_id: uuid.UUID, pool_id: uuid.UUID, workspace_id: uuid.UUID
) -> None:
    current = await uow.session.scalar(
        select(PoolAssignment).where(
            PoolAssignment.workspace_id == workspace_id,
            PoolAssignment.pool_id == pool_id,
            PoolAssignment.org_id == org_id,
        )
    )
    if current is None:
        raise NotFound(
            f"workspace {workspace_id} is not assigned to pool {pool_id}", code="assignment_not_found"
        )
    await uow.session.delete(current)
    await uow.session.flush()
    await uow.emit(
        POOL_UNASSIGNED,
        subject=Subject(type="workspace", id=str(workspace_id)),
        data={"pool_id": str(pool_id), "workspace_id": str(workspace_id)},
        org_id=org_id,
    )


async def list_assignments(uow: UnitOfWork, org_id: uuid.UUID, pool_id: uuid.UUID) -> list[PoolAssignmentDTO]:
    await get_pool_row(uow, org_id, pool_id)
    rows = await uow.session.scalars(
        select(PoolAssignment).where(PoolAssignment.pool_id == pool_id).order_by(PoolAssignment.created_at)
    )
    return [_assignment_dto(a) for a in rows]


# ---------------------------------------------------------------- on-demand


def _ondemand_dto(c: PoolOndemandConfig, key: str) -> OndemandConfigDTO:
    return OndemandConfigDTO(
        id=c.id,
        org_id=c.org_id,
        pool_id=c.pool_id,
        resource_key=key,
        enabled=c.enabled,
        price_ref=c.price_ref,
        cap=c.cap,
        updated_at=c.updated_at,
    )


async def set_ondemand(
    uow: UnitOfWork,
    org_id: uuid.UUID,
    pool_id: uuid.UUID,
    resource_key: str,
    *,
    enabled: bool,
    price_ref: str | None,
    cap: Decimal | None,
) -> OndemandConfigDTO:
    await get_pool_row(uow, org_id, pool_id)
    rk = await uow.session.scalar(select(ResourceKey).where(ResourceKey.key == resource_key))
    if rk is None or rk.kind != "numeric":
        raise NotFound(f"numeric resource key {resource_key!r} does not exist", code="resource_key_not_found")
    if cap is not None and (not cap.is_finite() or cap < 0):
        raise Unprocessable("cap must be a number ≥ 0", errors=[{"field": "cap", "message": "out of range"}])
    config = await uow.session.scalar(
        select(PoolOndemandConfig)
        .where(PoolOndemandConfig.pool_id == pool_id, PoolOndemandConfig.resource_key_id == rk.id)
        .with_for_update()
    )
    if config is None:
        config = PoolOndemandConfig(org_id=org_id, pool_id=pool_id, resource_key_id=rk.id, enabled=enabled)
        uow.session.add(config)
    config.enabled, config.price_ref, config.cap = enabled, price_ref, cap
    await uow.session.flush()
    await uow.session.refresh(config, ["updated_at"])
    await uow.emit(
        ONDEMAND_CONFIGURED,
        subject=Subject(type="resource_pool", id=str(pool_id)),
        data={"resource_key": resource_key, "enabled": enabled, "price_ref": price_ref, "cap": cap},
        org_id=org_id,
    )
    return _ondemand_dto(config, resource_key)


async def list_ondemand(uow: UnitOfWork, org_id: uuid.UUID, pool_id: uuid.UUID) -> list[OndemandConfigDTO]:
    await get_pool_row(uow, org_id, pool_id)
    rows = await uow.session.execute(
        select(PoolOndemandConfig, ResourceKey.key)
        .join(ResourceKey, ResourceKey.id == PoolOndemandConfig.resource_key_id)
        .where(PoolOndemandConfig.pool_id == pool_id)
        .order_by(ResourceKey.key)
    )
    return [_ondemand_dto(c, key) for c, key in rows]


# ---------------------------------------------------------------- materialized view


async def pool_entitlements(uow: UnitOfWork, org_id: uuid.UUID, pool_id: uuid.UUID) -> PoolEntitlementsDTO:
    await get_pool_row(uow, org_id, pool_id)
    booleans = await uow.session.execute(
        select(BooleanEntitlement, ResourceKey.key)
        .join(ResourceKey, ResourceKey.id == BooleanEntitlement.resource_key_id)
        .where(BooleanEntitlement.pool_id == pool_id)
        .order_by(ResourceKey.key)
    )
    numerics = await uow.session.execute(
        select(NumericEntitlement, ResourceKey.key)
        .join(ResourceKey, ResourceKey.id == NumericEntitlement.resource_key_id)
        .where(NumericEntitlement.pool_id == pool_id)
        .order_by(ResourceKey.key)
    )
    return PoolEntitlementsDTO(
        pool_id=pool_id,
        boolean=[
            BooleanEntitlementDTO(
                id=b.id,
                pool_id=pool_id,
                resource_key=key,
                enabled=b.enabled,
                value=b.value,
                next_change_at=b.next_change_at,
                schedule=schedule.decode(b.schedule),
            )
            for b, key in booleans
        ],
        numeric=[
            NumericEntitlementDTO(
                id=n.id,
                pool_id=pool_id,
                resource_key=key,
                kind=n.kind,  # type: ignore[arg-type]
                aggregation=n.aggregation,  # type: ignore[arg-type]
                reset_period=n.reset_period,  # type: ignore[arg-type]
                enforcement=n.enforcement,  # type: ignore[arg-type]
                limit=n.limit_amount,
                next_change_at=n.next_change_at,
                schedule=schedule.decode(n.schedule),
            )
            for n, key in numerics
        ],
    )


async def pool_in_org(uow: UnitOfWork, org_id: uuid.UUID, pool_id: uuid.UUID) -> bool:
    found = await uow.session.scalar(
        select(ResourcePool.id).where(ResourcePool.id == pool_id, ResourcePool.org_id == org_id)
    )
    return found is not None
