"""Workspaces: resource isolation inside an organization."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select

from modules.organization.contracts import (
    WORKSPACE_CREATED,
    WORKSPACE_DELETED,
    WORKSPACE_UPDATED,
    WorkspaceDTO,
    WorkspaceStatus,
)
from modules.organization.models import RoleAssignment, Workspace
from modules.organization.services.common import ensure_writable, get_in_org, lock_org
from modules.organization.services.paging import by_id
from platform_core.core.errors import Conflict
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, page_of


def to_dto(ws: Workspace) -> WorkspaceDTO:
    return WorkspaceDTO(
        id=ws.id,
        org_id=ws.org_id,
        slug=ws.slug,
        name=ws.name,
        description=ws.description,
        status=ws.status,  # type: ignore[arg-type]
        created_at=ws.created_at,
        updated_at=ws.updated_at,
    )


def _subject(ws: Workspace) -> Subject:
    return Subject(type="workspace", id=str(ws.id), name=ws.slug)


async def _get(uow: UnitOfWork, org_id: uuid.UUID, workspace_id: uuid.UUID) -> Workspace:
    return await get_in_org(uow, Workspace, org_id, workspace_id, "workspace", "workspace_not_found")


async def _slug_free(uow: UnitOfWork, org_id: uuid.UUID, slug: str) -> None:
    taken = (
        await uow.session.execute(
            select(Workspace.id).where(Workspace.org_id == org_id, Workspace.slug == slug)
        )
    ).first()
    if taken is not None:
        raise Conflict(f"the workspace slug {slug!r} is taken in this organization", code="slug_taken")


async def create_workspace(
    uow: UnitOfWork, org_id: uuid.UUID, *, slug: str, name: str, description: str | None
) -> WorkspaceDTO:
    ensure_writable(await lock_org(uow, org_id))
    await _slug_free(uow, org_id, slug)
    ws = Workspace(org_id=org_id, slug=slug, name=name, description=description, created_by=uow.actor.id)
    uow.session.add(ws)
    await uow.session.flush()
    await uow.session.refresh(ws)
    await uow.emit(WORKSPACE_CREATED, subject=_subject(ws), data={"slug": slug, "name": name}, org_id=org_id)
    return to_dto(ws)


async def list_workspaces(
    uow: UnitOfWork, org_id: uuid.UUID, *, status: WorkspaceStatus | None, limit: int, cursor: str | None
) -> Page[WorkspaceDTO]:
    stmt = select(Workspace).where(Workspace.org_id == org_id)
    if status is not None:
        stmt = stmt.where(Workspace.status == status)
    rows = (await uow.session.execute(by_id(stmt, Workspace.id, cursor=cursor, limit=limit))).scalars()
    return page_of(list(rows), limit, lambda w: [str(w.id)], to_dto)


async def get_workspace(uow: UnitOfWork, org_id: uuid.UUID, workspace_id: uuid.UUID) -> WorkspaceDTO:
    return to_dto(await _get(uow, org_id, workspace_id))


async def update_workspace(
    uow: UnitOfWork,
    org_id: uuid.UUID,
    workspace_id: uuid.UUID,
    *,
    slug: str | None,
    name: str | None,
    description: str | None,
    status: WorkspaceStatus | None,
) -> WorkspaceDTO:
    ensure_writable(await lock_org(uow, org_id))
    ws = await _get(uow, org_id, workspace_id)
    changes: dict[str, str] = {}
    if slug is not None and slug != ws.slug:
        await _slug_free(uow, org_id, slug)
        ws.slug = changes["slug"] = slug
    if name is not None and name != ws.name:
        ws.name = changes["name"] = name
    if description is not None and description != ws.description:
        ws.description = changes["description"] = description
    if status is not None and status != ws.status:
        ws.status = changes["status"] = status
    if changes:
        await uow.session.flush()
        await uow.session.refresh(ws)
        await uow.emit(WORKSPACE_UPDATED, subject=_subject(ws), data=changes, org_id=org_id)
    return to_dto(ws)


async def delete_workspace(uow: UnitOfWork, org_id: uuid.UUID, workspace_id: uuid.UUID) -> None:
    """Deletes the workspace and the role assignments scoped to it."""
    ensure_writable(await lock_org(uow, org_id))
    ws = await _get(uow, org_id, workspace_id)
    await uow.session.execute(
        delete(RoleAssignment).where(
            RoleAssignment.scope_type == "workspace", RoleAssignment.scope_id == ws.id
        )
    )
    await uow.session.delete(ws)
    await uow.session.flush()
    await uow.emit(WORKSPACE_DELETED, subject=_subject(ws), data={"slug": ws.slug}, org_id=org_id)
