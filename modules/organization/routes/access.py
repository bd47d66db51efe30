"""/orgs/{org_id}/roles, /orgs/{org_id}/role-assignments, /orgs/{org_id}/authz/check."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from modules.organization import permissions as perms
from modules.organization.contracts import AuthzDecision, RoleAssignmentDTO, RoleDTO
from modules.organization.routes.params import Cursor, Limit
from modules.organization.schemas import AuthzAnswer, AuthzCheck, CreateAssignment, CreateRole, UpdateRole
from modules.organization.services import assignments, authz, roles
from platform_core.http import idempotency
from platform_core.http.auth import requires
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class RoleController(Controller):
    path = "/orgs/{org_id:uuid}/roles"
    tags = ["organization"]

    @get("/", guards=[requires(perms.ROLES_READ)], summary="System roles and the organization's custom roles")
    async def list_roles(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[RoleDTO]:
        return await roles.list_roles(uow, org_id, limit=check_limit(limit), cursor=cursor)

    @post("/", guards=[requires(perms.ROLES_CREATE)], status_code=201, summary="Create a custom role")
    async def create(
        self,
        org_id: FromPath[uuid.UUID],
        data: JSONBody[CreateRole],
        uow: NamedDependency[UnitOfWork],
    ) -> RoleDTO:
        role = await roles.create_role(
            uow,
            org_id,
            key=data.key,
            name=data.name,
            description=data.description,
            permissions=data.permissions,
        )
        return role

    @get("/{role_id:uuid}", guards=[requires(perms.ROLES_READ)], summary="Get a role")
    async def get_one(
        self, org_id: FromPath[uuid.UUID], role_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> RoleDTO:
        return await roles.get_role(uow, org_id, role_id)

    @patch("/{role_id:uuid}", guards=[requires(perms.ROLES_UPDATE)], summary="Update a custom role")
    async def update(
        self,
        org_id: FromPath[uuid.UUID],
        role_id: FromPath[uuid.UUID],
        data: JSONBody[UpdateRole],
        uow: NamedDependency[UnitOfWork],
    ) -> RoleDTO:
        return await roles.update_role(
            uow, org_id, role_id, name=data.name, description=data.description, permissions=data.permissions
        )

    @delete(
        "/{role_id:uuid}",
        guards=[requires(perms.ROLES_DELETE)],
        status_code=204,
        summary="Delete a custom role",
    )
    async def remove(
        self, org_id: FromPath[uuid.UUID], role_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> None:
        await roles.delete_role(uow, org_id, role_id)


class AssignmentController(Controller):
    path = "/orgs/{org_id:uuid}/role-assignments"
    tags = ["organization"]

    @get("/", guards=[requires(perms.ASSIGNMENTS_READ)], summary="List role assignments")
    async def list_assignments(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        principal_id: FromQuery[uuid.UUID | None] = None,
        role_id: FromQuery[uuid.UUID | None] = None,
        scope_id: FromQuery[uuid.UUID | None] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[RoleAssignmentDTO]:
        return await assignments.list_assignments(
            uow,
            org_id,
            principal_id=principal_id,
            role_id=role_id,
            scope_id=scope_id,
            limit=check_limit(limit),
            cursor=cursor,
        )

    @post("/", guards=[requires(perms.ASSIGNMENTS_CREATE)], status_code=201, summary="Assign a role")
    async def create(
        self,
        org_id: FromPath[uuid.UUID],
        data: JSONBody[CreateAssignment],
        uow: NamedDependency[UnitOfWork],
    ) -> RoleAssignmentDTO:
        assignment = await assignments.create_assignment(
            uow,
            org_id,
            principal_type=data.principal_type,
            principal_id=data.principal_id,
            role_id=data.role_id,
            scope_type=data.scope_type,
            scope_id=data.scope_id,
        )
        return assignment

    @delete(
        "/{assignment_id:uuid}",
        guards=[requires(perms.ASSIGNMENTS_DELETE)],
        status_code=204,
        summary="Withdraw a role (never the last active owner's)",
    )
    async def remove(
        self,
        org_id: FromPath[uuid.UUID],
        assignment_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
    ) -> None:
        await assignments.delete_assignment(uow, org_id, assignment_id)


class AuthzController(Controller):
    path = "/orgs/{org_id:uuid}/authz"
    tags = ["organization"]

    @post(
        "/check",
        guards=[requires(perms.AUTHZ_CHECK)],
        status_code=200,
        summary="Would this principal be allowed this permission here?",
        opt=idempotency.exempt("reads only: asking twice changes nothing"),
    )
    async def check(
        self, org_id: FromPath[uuid.UUID], data: JSONBody[AuthzCheck], uow: NamedDependency[UnitOfWork]
    ) -> AuthzAnswer:
        decision: AuthzDecision = await authz.evaluate(
            uow.session,
            principal_type=data.principal_type,
            principal_id=data.principal_id,
            permission=data.permission,
            org_id=org_id,
            workspace_id=data.workspace_id,
        )
        # without standing the precise reason could reveal another organization's principals
        reason = decision.reason if decision.standing else "no_standing"
        return AuthzAnswer(allowed=decision.allowed, reason=reason)
