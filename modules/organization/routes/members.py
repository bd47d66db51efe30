"""/orgs/{org_id}/members and /orgs/{org_id}/persons."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from modules.identity.contracts import PersonDTO
from modules.organization import permissions as perms
from modules.organization.contracts import MemberDTO, MemberStatus
from modules.organization.routes.params import Cursor, Limit
from modules.organization.services import members, persons
from platform_core.http.auth import requires
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class MemberController(Controller):
    path = "/orgs/{org_id:uuid}/members"
    tags = ["organization"]

    @get("/", guards=[requires(perms.MEMBERS_READ)], summary="List members")
    async def list_members(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        status: FromQuery[MemberStatus | None] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[MemberDTO]:
        return await members.list_members(uow, org_id, status=status, limit=check_limit(limit), cursor=cursor)

    @get("/{person_id:uuid}", guards=[requires(perms.MEMBERS_READ)], summary="Get a member")
    async def get_one(
        self, org_id: FromPath[uuid.UUID], person_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> MemberDTO:
        return await members.get_member(uow, org_id, person_id)

    @post(
        "/{person_id:uuid}/suspend",
        guards=[requires(perms.MEMBERS_UPDATE)],
        status_code=200,
        summary="Suspend a member (never the last active owner)",
    )
    async def suspend(
        self, org_id: FromPath[uuid.UUID], person_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> MemberDTO:
        return await members.suspend_member(uow, org_id, person_id)

    @post(
        "/{person_id:uuid}/reactivate",
        guards=[requires(perms.MEMBERS_UPDATE)],
        status_code=200,
        summary="Lift a member's suspension",
    )
    async def reactivate(
        self, org_id: FromPath[uuid.UUID], person_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> MemberDTO:
        return await members.reactivate_member(uow, org_id, person_id)

    @delete(
        "/{person_id:uuid}",
        guards=[requires(perms.MEMBERS_REMOVE)],
        status_code=204,
        summary="Remove a member (never the last active owner)",
    )
    async def remove(
        self, org_id: FromPath[uuid.UUID], person_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> None:
        await members.remove_member(uow, org_id, person_id)


class PersonController(Controller):
    path = "/orgs/{org_id:uuid}/persons"
    tags = ["organization"]

    @get("/", guards=[requires(perms.PERSONS_READ)], summary="Persons who are members of the organization")
    async def list_persons(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[PersonDTO]:
        return await persons.list_org_persons(uow, org_id, limit=check_limit(limit), cursor=cursor)
