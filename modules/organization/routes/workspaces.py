"""/orgs/{org_id}/workspaces."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from modules.organization import permissions as perms
from modules.organization.contracts import WorkspaceDTO, WorkspaceStatus
from modules.organization.routes.params import Cursor, Limit
from modules.organization.schemas import CreateWorkspace, UpdateWorkspace
from modules.organization.services import workspaces
from platform_core.http.auth import requires
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class WorkspaceController(Controller):
    path = "/orgs/{org_id:uuid}/workspaces"
    tags = ["organization"]

    @get("/", guards=[requires(perms.WORKSPACES_READ)], summary="List workspaces")
    async def list_workspaces(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        status: FromQuery[WorkspaceStatus | None] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[WorkspaceDTO]:
        return await workspaces.list_workspaces(
            uow, org_id, status=status, limit=check_limit(limit), cursor=cursor
        )

    @post("/", guards=[requires(perms.WORKSPACES_CREATE)], status_code=201, summary="Create a workspace")
    async def create(
        self,
        org_id: FromPath[uuid.UUID],
        data: JSONBody[CreateWorkspace],
        uow: NamedDependency[UnitOfWork],
    ) -> WorkspaceDTO:
        ws = await workspaces.create_workspace(
            uow, org_id, slug=data.slug, name=data.name, description=data.description
        )
        return ws

    @get("/{workspace_id:uuid}", guards=[requires(perms.WORKSPACES_READ)], summary="Get a workspace")
    async def get_one(
        self, org_id: FromPath[uuid.UUID], workspace_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> WorkspaceDTO:
        return await workspaces.get_workspace(uow, org_id, workspace_id)

    @patch("/{workspace_id:uuid}", guards=[requires(perms.WORKSPACES_UPDATE)], summary="Update a workspace")
    async def update(
        self,
        org_id: FromPath[uuid.UUID],
        workspace_id: FromPath[uuid.UUID],
        data: JSONBody[UpdateWorkspace],
        uow: NamedDependency[UnitOfWork],
    ) -> WorkspaceDTO:
        return await workspaces.update_workspace(
            uow,
            org_id,
            workspace_id,
            slug=data.slug,
            name=data.name,
            description=data.description,
            status=data.status,
        )

    @delete(
        "/{workspace_id:uuid}",
        guards=[requires(perms.WORKSPACES_DELETE)],
        status_code=204,
        summary="Delete a workspace and its scoped role assignments",
    )
    async def remove(
        self, org_id: FromPath[uuid.UUID], workspace_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> None:
        await workspaces.delete_workspace(uow, org_id, workspace_id)
