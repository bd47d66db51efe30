"""The usage trail: every accepted and rejected usage event of an organization, newest first."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from sqlalchemy import select

from modules.entitlements.contracts import UsageEventDTO
from modules.entitlements.models import UsageEvent
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of


class TrailFilter(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: uuid.UUID | None = None
    resource_key: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _dto(e: UsageEvent) -> UsageEventDTO:
    return UsageEventDTO(
        id=e.id,
        org_id=e.org_id,
        event_id=e.event_id,
        workspace_id=e.workspace_id,
        resource_key=e.resource_key,
        quantity=e.quantity,
        occurred_at=e.occurred_at,
        received_at=e.received_at,
        status=e.status,  # type: ignore[arg-type]
        reason=e.reason,
        overage=e.overage,
        properties=e.properties,
    )


async def list_usage(
    uow: UnitOfWork, org_id: uuid.UUID, flt: TrailFilter, *, limit: int, cursor: str | None
) -> Page[UsageEventDTO]:
    stmt = select(UsageEvent).where(UsageEvent.org_id == org_id)
    if flt.workspace_id is not None:
        stmt = stmt.where(UsageEvent.workspace_id == flt.workspace_id)
    if flt.resource_key is not None:
        stmt = stmt.where(UsageEvent.resource_key == flt.resource_key)
    if flt.status is not None:
        stmt = stmt.where(UsageEvent.status == flt.status)
    if flt.since is not None:
        stmt = stmt.where(UsageEvent.received_at >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(UsageEvent.received_at < flt.until)
    stmt = keyset(stmt, [UsageEvent.id.expression], cursor=cursor, limit=limit, descending=True)
    rows = (await uow.session.scalars(stmt)).all()
    return page_of(rows, limit, lambda e: [str(e.id)], _dto)
