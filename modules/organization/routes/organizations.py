"""/organizations: create, list mine, get, update, lifecycle."""

from __future__ import annotations

import uuid

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from modules.organization import permissions as perms
from modules.organization.contracts import OrganizationDTO
from modules.organization.routes.params import Cursor, Limit
from modules.organization.schemas import CreateOrganization, SetStatus, UpdateOrganization
from modules.organization.services import authz, organizations
from platform_core.core.principal import Principal
from platform_core.http.auth import requires
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class OrganizationController(Controller):
    path = "/organizations"
    tags = ["organization"]

    @post("/", guards=[requires(perms.ORG_CREATE)], status_code=201, summary="Create an organization")
    async def create(
        self,
        data: JSONBody[CreateOrganization],
        uow: NamedDependency[UnitOfWork],
    ) -> OrganizationDTO:
        org = await organizations.create_organization(
            uow, slug=data.slug, name=data.name, kind=data.kind, owner_person_id=data.owner_person_id
        )
        return org

    @get("/", guards=[requires(perms.ORG_LIST)], summary="Organizations I belong to (all, for operators)")
    async def list_mine(
        self,
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[OrganizationDTO]:
        return await organizations.list_organizations(
            uow,
            all_orgs=await authz.is_operator(uow.session, principal),
            person_id=principal.id,
            limit=check_limit(limit),
            cursor=cursor,
        )

    @get("/{org_id:uuid}", guards=[requires(perms.ORG_READ)], summary="Get an organization")
    async def get_one(self, org_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]) -> OrganizationDTO:
        return await organizations.get_organization(uow, org_id)

    @patch("/{org_id:uuid}", guards=[requires(perms.ORG_UPDATE)], summary="Update an organization")
    async def update(
        self,
        org_id: FromPath[uuid.UUID],
        data: JSONBody[UpdateOrganization],
        uow: NamedDependency[UnitOfWork],
    ) -> OrganizationDTO:
        return await organizations.update_organization(uow, org_id, name=data.name, kind=data.kind)

    @post(
        "/{org_id:uuid}/status",
        guards=[requires(perms.ORG_SET_STATUS)],
        status_code=200,
        summary="Lifecycle transition: trial → active → frozen ↔ active → archived",
    )
    async def set_status(
        self, org_id: FromPath[uuid.UUID], data: JSONBody[SetStatus], uow: NamedDependency[UnitOfWork]
    ) -> OrganizationDTO:
        return await organizations.set_status(uow, org_id, data.status, reason=data.reason)
