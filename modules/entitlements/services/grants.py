"""Grants: non-commercial, time-boxed, revocable provisioning (support credit, partner access).
A grant is provisioned through the same path billing uses (source_type "grant")."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from modules.entitlements.contracts import GRANT_CREATED, GRANT_REVOKED, BillingCycle, GrantDTO
from modules.entitlements.models import EntitlementSet, Grant, PoolProvision
from modules.entitlements.services import provisions
from modules.entitlements.services.pools import get_pool_row
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of


def _dto(g: Grant, es: EntitlementSet, provision_id: uuid.UUID | None) -> GrantDTO:
    return GrantDTO(
        id=g.id,
        org_id=g.org_id,
        pool_id=g.pool_id,
        entitlement_set_id=g.entitlement_set_id,
        set_key=es.key,
        set_version=es.version,
        quantity=g.quantity,
        reason=g.reason,
        granted_by=g.granted_by,
        starts_at=g.starts_at,
        ends_at=g.ends_at,
        revoked_at=g.revoked_at,
        revoked_by=g.revoked_by,
        revoke_reason=g.revoke_reason,
        provision_id=provision_id,
        created_at=g.created_at,
    )


async def create_grant(
    uow: UnitOfWork,
    org_id: uuid.UUID,
    *,
    pool_id: uuid.UUID,
    entitlement_set_id: uuid.UUID,
    reason: str,
    ends_at: datetime,
    starts_at: datetime | None = None,
    quantity: Decimal = Decimal(1),
    billing_cycle: BillingCycle | None = None,
) -> GrantDTO:
    """A grant and its provision; `billing_cycle` for a set whose quotas reset every billing
    period."""
    await get_pool_row(uow, org_id, pool_id)
    starts = starts_at or utcnow()
    if ends_at <= starts:
        raise Unprocessable(
            "a grant must end after it starts",
            code="invalid_window",
            errors=[{"field": "ends_at", "message": "not after starts_at"}],
        )
    grant = Grant(
        org_id=org_id,
        pool_id=pool_id,
        entitlement_set_id=entitlement_set_id,
        quantity=quantity,
        reason=reason,
        granted_by=uow.actor.id,
        starts_at=starts,
        ends_at=ends_at,
    )
    uow.session.add(grant)
    await uow.session.flush()
    prov = await provisions.provision(
        uow,
        org_id=org_id,
        pool_id=pool_id,
        source_type="grant",
        source_id=grant.id,
        entitlement_set_id=entitlement_set_id,
        quantity=quantity,
        starts_at=starts,
        ends_at=ends_at,
        billing_cycle=billing_cycle,
    )
    await uow.session.refresh(grant, ["created_at"])
    es = await uow.session.get(EntitlementSet, entitlement_set_id)
    assert es is not None
    dto = _dto(grant, es, prov.id)
    await uow.emit(
        GRANT_CREATED,
        subject=Subject(type="grant", id=str(grant.id), name=reason[:100]),
        data=dto,
        org_id=org_id,
    )
    return dto


async def revoke_grant(
    uow: UnitOfWork, org_id: uuid.UUID, grant_id: uuid.UUID, *, reason: str | None
) -> GrantDTO:
    grant = await uow.session.scalar(
        select(Grant).where(Grant.id == grant_id, Grant.org_id == org_id).with_for_update()
    )
    if grant is None:
        raise NotFound(f"grant {grant_id} does not exist", code="grant_not_found")
    if grant.revoked_at is not None:
        raise Conflict(f"grant {grant_id} is already revoked", code="grant_revoked")
    prov = await provisions.find_provision(uow, "grant", grant.id)
    if prov is not None:
        await provisions.deprovision(uow, prov.id, org_id=org_id, revoke=True)
    grant.revoked_at, grant.revoked_by, grant.revoke_reason = utcnow(), uow.actor.id, reason
    await uow.session.flush()
    dto = await get_grant(uow, org_id, grant_id)
    await uow.emit(
        GRANT_REVOKED,
        subject=Subject(type="grant", id=str(grant_id)),
        data={"reason": reason, "provision_id": str(prov.id) if prov else None},
        org_id=org_id,
    )
    return dto


def _query(org_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return (
        select(Grant, EntitlementSet, PoolProvision.id)
        .join(EntitlementSet, EntitlementSet.id == Grant.entitlement_set_id)
        .outerjoin(PoolProvision, PoolProvision.grant_id == Grant.id)
        .where(Grant.org_id == org_id)
    )


async def grant_in_pool(uow: UnitOfWork, org_id: uuid.UUID, grant_id: uuid.UUID, pool_id: uuid.UUID) -> None:
    """An operator's provision names a grant of this organization and pool, or is refused."""
    found = await uow.session.scalar(
        select(Grant.pool_id).where(Grant.id == grant_id, Grant.org_id == org_id)
    )
    if found is None:
        raise NotFound(f"grant {grant_id} does not exist", code="grant_not_found")
    if found != pool_id:
        raise Unprocessable(
            f"grant {grant_id} provisions another pool",
            code="grant_pool_mismatch",
            errors=[{"field": "source_id", "message": "a grant of another pool"}],
        )


async def get_grant(uow: UnitOfWork, org_id: uuid.UUID, grant_id: uuid.UUID) -> GrantDTO:
    row = (await uow.session.execute(_query(org_id).where(Grant.id == grant_id))).first()
    if row is None:
        raise NotFound(f"grant {grant_id} does not exist", code="grant_not_found")
    return _dto(row[0], row[1], row[2])


async def list_grants(
    uow: UnitOfWork, org_id: uuid.UUID, *, pool_id: uuid.UUID | None, limit: int, cursor: str | None
) -> Page[GrantDTO]:
    stmt = _query(org_id)
    if pool_id is not None:
        stmt = stmt.where(Grant.pool_id == pool_id)
    rows = (await uow.session.execute(keyset(stmt, [Grant.id.expression], cursor=cursor, limit=limit))).all()
    return page_of(rows, limit, lambda r: [str(r[0].id)], lambda r: _dto(r[0], r[1], r[2]))
