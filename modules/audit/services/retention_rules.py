"""Retention policies and legal holds: what retention may remove, and what it must keep."""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert

from modules.audit.contracts import (
    LEGAL_HOLD_PLACED,
    LEGAL_HOLD_RELEASED,
    RETENTION_POLICY_DELETED,
    RETENTION_POLICY_SET,
    ArchiveDTO,
    LegalHoldDTO,
    RetentionPolicyDTO,
)
from modules.audit.models import AuditArchiveManifest, AuditLegalHold, AuditRetentionPolicy
from modules.audit.schemas import PlaceLegalHold, SetRetentionPolicy
from modules.organization import api as org_api
from platform_core.core.clock import utcnow
from platform_core.core.errors import NotFound, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of

POLICIES = cast(Table, AuditRetentionPolicy.__table__)


def policy_dto(p: AuditRetentionPolicy) -> RetentionPolicyDTO:
    return RetentionPolicyDTO(
        id=p.id,
        org_id=p.org_id,
        tier=p.tier,
        retention_days=p.retention_days,
        archive_before_delete=p.archive_before_delete,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def hold_dto(h: AuditLegalHold) -> LegalHoldDTO:
    return LegalHoldDTO(
        id=h.id,
        org_id=h.org_id,
        actor_id=h.actor_id,
        starts_at=h.starts_at,
        ends_at=h.ends_at,
        reason=h.reason,
        placed_by=h.placed_by,
        released_at=h.released_at,
        created_at=h.created_at,
    )


def archive_dto(m: AuditArchiveManifest) -> ArchiveDTO:
    return ArchiveDTO(
        id=m.id,
        org_id=m.org_id,
        seq_from=m.seq_from,
        seq_to=m.seq_to,
        row_count=m.row_count,
        range_start=m.range_start,
        range_end=m.range_end,
        sha256=m.sha256,
        location=m.location,
        prev_hash=m.prev_hash.hex() if m.prev_hash else None,
        last_hash=m.last_hash.hex(),
        created_at=m.created_at,
    )


def _scope_refused(message: str, field: str) -> Unprocessable:
    return Unprocessable(
        message, code="invalid_scope", errors=[{"field": field, "source": "body", "message": message}]
    )


async def set_policy(uow: UnitOfWork, data: SetRetentionPolicy) -> RetentionPolicyDTO:
    """Create or replace the policy of one organization or one tier."""
    if (data.org_id is None) == (data.tier is None):
        raise _scope_refused("name exactly one of org_id and tier", "org_id")
    if data.org_id is not None:
        await org_api.get_organization(uow, data.org_id)
    target = "org_id" if data.org_id is not None else "tier"
    settings = {"retention_days": data.retention_days, "archive_before_delete": data.archive_before_delete}
    upsert = (
        insert(POLICIES)
        .values(org_id=data.org_id, tier=data.tier, **settings)
        .on_conflict_do_update(index_elements=[target], set_=settings)
        .returning(POLICIES.c.id)
    )
    policy_id = (await uow.session.execute(upsert)).scalar_one()
    policy = await uow.session.get_one(AuditRetentionPolicy, policy_id, populate_existing=True)
    await uow.emit(
        RETENTION_POLICY_SET,
        subject=Subject(type="audit_retention_policy", id=str(policy.id), name=data.tier),
        data=settings,
        org_id=data.org_id,
    )
    return policy_dto(policy)


async def list_policies(uow: UnitOfWork) -> list[RetentionPolicyDTO]:
    rows = await uow.session.scalars(select(AuditRetentionPolicy).order_by(AuditRetentionPolicy.created_at))
    return [policy_dto(p) for p in rows]


async def delete_policy(uow: UnitOfWork, policy_id: uuid.UUID) -> None:
    policy = await uow.session.get(AuditRetentionPolicy, policy_id)
    if policy is None:
        raise NotFound(f"retention policy {policy_id} does not exist", code="retention_policy_not_found")
    await uow.session.delete(policy)
    await uow.session.flush()
    await uow.emit(
        RETENTION_POLICY_DELETED,
        subject=Subject(type="audit_retention_policy", id=str(policy_id), name=policy.tier),
        org_id=policy.org_id,
    )


async def place_hold(uow: UnitOfWork, data: PlaceLegalHold) -> LegalHoldDTO:
    if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
        raise _scope_refused("ends_at must be after starts_at", "ends_at")
    if data.org_id is not None:
        await org_api.get_organization(uow, data.org_id)
    hold = AuditLegalHold(
        org_id=data.org_id,
        actor_id=data.actor_id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        reason=data.reason,
        placed_by=uow.actor.id,
    )
    uow.session.add(hold)
    await uow.session.flush()
    await uow.session.refresh(hold)
    await uow.emit(
        LEGAL_HOLD_PLACED,
        subject=Subject(type="audit_legal_hold", id=str(hold.id)),
        data={
            "actor_id": data.actor_id,
            "starts_at": data.starts_at.isoformat() if data.starts_at else None,
            "ends_at": data.ends_at.isoformat() if data.ends_at else None,
            "reason": data.reason,
        },
        org_id=data.org_id,
    )
    return hold_dto(hold)


async def list_holds(uow: UnitOfWork, *, active: bool | None) -> list[LegalHoldDTO]:
    stmt = select(AuditLegalHold).order_by(AuditLegalHold.created_at)
    if active is not None:
        stmt = stmt.where(
            AuditLegalHold.released_at.is_(None) if active else AuditLegalHold.released_at.is_not(None)
        )
    return [hold_dto(h) for h in await uow.session.scalars(stmt)]


async def release_hold(uow: UnitOfWork, hold_id: uuid.UUID) -> LegalHoldDTO:
    hold = await uow.session.get(AuditLegalHold, hold_id, with_for_update=True)
    if hold is None:
        raise NotFound(f"legal hold {hold_id} does not exist", code="legal_hold_not_found")
    if hold.released_at is None:
        hold.released_at = utcnow()
        await uow.session.flush()
        await uow.emit(
            LEGAL_HOLD_RELEASED, subject=Subject(type="audit_legal_hold", id=str(hold.id)), org_id=hold.org_id
        )
    await uow.session.refresh(hold)
    return hold_dto(hold)


async def list_archives(
    uow: UnitOfWork, *, org_id: uuid.UUID | None, limit: int, cursor: str | None
) -> Page[ArchiveDTO]:
    stmt = select(AuditArchiveManifest)
    if org_id is not None:
        stmt = stmt.where(AuditArchiveManifest.org_id == org_id)
    stmt = keyset(stmt, [AuditArchiveManifest.__table__.c.id], cursor=cursor, limit=limit, descending=True)
    rows = list((await uow.session.scalars(stmt)).all())
    return page_of(rows, limit, lambda m: [str(m.id)], archive_dto)
