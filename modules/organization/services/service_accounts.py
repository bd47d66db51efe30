"""Service accounts: non-human actors owned by one organization."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select

from modules.organization.contracts import (
    SERVICE_ACCOUNT_CREATED,
    SERVICE_ACCOUNT_DELETED,
    SERVICE_ACCOUNT_UPDATED,
    ServiceAccountDTO,
)
from modules.organization.models import RoleAssignment, ServiceAccount
from modules.organization.services.common import ensure_writable, get_in_org, lock_org
from modules.organization.services.paging import by_id
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, page_of


def to_dto(sa: ServiceAccount) -> ServiceAccountDTO:
    return ServiceAccountDTO(
        id=sa.id,
        org_id=sa.org_id,
        name=sa.name,
        description=sa.description,
        disabled_at=sa.disabled_at,
        created_at=sa.created_at,
        updated_at=sa.updated_at,
    )


def subject(sa: ServiceAccount) -> Subject:
    return Subject(type="service_account", id=str(sa.id), name=sa.name)


async def get_account(uow: UnitOfWork, org_id: uuid.UUID, account_id: uuid.UUID) -> ServiceAccount:
    return await get_in_org(
        uow, ServiceAccount, org_id, account_id, "service account", "service_account_not_found"
    )


async def _name_free(uow: UnitOfWork, org_id: uuid.UUID, name: str) -> None:
    taken = (
        await uow.session.execute(
            select(ServiceAccount.id).where(ServiceAccount.org_id == org_id, ServiceAccount.name == name)
        )
    ).first()
    if taken is not None:
        raise Conflict(f"a service account named {name!r} exists", code="name_taken")


async def create_account(
    uow: UnitOfWork, org_id: uuid.UUID, *, name: str, description: str | None
) -> ServiceAccountDTO:
    ensure_writable(await lock_org(uow, org_id))
    await _name_free(uow, org_id, name)
    sa = ServiceAccount(org_id=org_id, name=name, description=description, created_by=uow.actor.id)
    uow.session.add(sa)
    await uow.session.flush()
    await uow.session.refresh(sa)
    await uow.emit(SERVICE_ACCOUNT_CREATED, subject=subject(sa), data={"name": name}, org_id=org_id)
    return to_dto(sa)


async def list_accounts(
    uow: UnitOfWork, org_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[ServiceAccountDTO]:
    stmt = select(ServiceAccount).where(ServiceAccount.org_id == org_id)
    rows = (await uow.session.execute(by_id(stmt, ServiceAccount.id, cursor=cursor, limit=limit))).scalars()
    return page_of(list(rows), limit, lambda s: [str(s.id)], to_dto)


async def update_account(
    uow: UnitOfWork,
    org_id: uuid.UUID,
    account_id: uuid.UUID,
    *,
    name: str | None,
    description: str | None,
    disabled: bool | None,
) -> ServiceAccountDTO:
    """`disabled` true stops every key of the account on the next request."""
    ensure_writable(await lock_org(uow, org_id))
    sa = await get_account(uow, org_id, account_id)
    changes: dict[str, object] = {}
    if name is not None and name != sa.name:
        await _name_free(uow, org_id, name)
        sa.name = name
        changes["name"] = name
    if description is not None and description != sa.description:
        sa.description = description
        changes["description"] = description
    if disabled is not None and disabled != (sa.disabled_at is not None):
        sa.disabled_at = utcnow() if disabled else None
        changes["disabled"] = disabled
    if changes:
        await uow.session.flush()
        await uow.session.refresh(sa)
        await uow.emit(SERVICE_ACCOUNT_UPDATED, subject=subject(sa), data=changes, org_id=org_id)
    return to_dto(sa)


async def delete_account(uow: UnitOfWork, org_id: uuid.UUID, account_id: uuid.UUID) -> None:
    """Deletes the account, its keys (cascade) and its role assignments."""
    ensure_writable(await lock_org(uow, org_id))
    sa = await get_account(uow, org_id, account_id)
    await uow.session.execute(
        delete(RoleAssignment).where(
            RoleAssignment.principal_type == "service_account", RoleAssignment.principal_id == sa.id
        )
    )
    await uow.session.delete(sa)
    await uow.session.flush()
    await uow.emit(SERVICE_ACCOUNT_DELETED, subject=subject(sa), data={"name": sa.name}, org_id=org_id)
