"""/orgs/{org_id}/invitations and /invitations/accept."""

from __future__ import annotations

import uuid
from datetime import timedelta

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from modules.organization import permissions as perms
from modules.organization.contracts import (
    AcceptedInvitation,
    InvitationDTO,
    InvitationStatus,
    IssuedInvitation,
)
from modules.organization.routes.params import Cursor, Limit
from modules.organization.schemas import AcceptInvitation, CreateInvitation
from modules.organization.services import invitations
from platform_core.http.auth import requires
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class InvitationController(Controller):
    path = "/orgs/{org_id:uuid}/invitations"
    tags = ["organization"]

    @get("/", guards=[requires(perms.INVITATIONS_READ)], summary="List invitations")
    async def list_invitations(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        status: FromQuery[InvitationStatus | None] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[InvitationDTO]:
        return await invitations.list_invitations(
            uow, org_id, status=status, limit=check_limit(limit), cursor=cursor
        )

    @post(
        "/",
        guards=[requires(perms.INVITATIONS_CREATE)],
        status_code=201,
        summary="Invite someone by email; the token is returned once",
    )
    async def create(
        self,
        org_id: FromPath[uuid.UUID],
        data: JSONBody[CreateInvitation],
        uow: NamedDependency[UnitOfWork],
    ) -> IssuedInvitation:
        issued = await invitations.create_invitation(
            uow, org_id, email=data.email, role_id=data.role_id, ttl=timedelta(days=data.expires_in_days)
        )
        return issued

    @post(
        "/{invitation_id:uuid}/revoke",
        guards=[requires(perms.INVITATIONS_REVOKE)],
        status_code=200,
        summary="Revoke a pending invitation",
    )
    async def revoke(
        self,
        org_id: FromPath[uuid.UUID],
        invitation_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
    ) -> InvitationDTO:
        return await invitations.revoke_invitation(uow, org_id, invitation_id)


class InvitationAcceptController(Controller):
    path = "/invitations"
    tags = ["organization"]

    @post(
        "/accept",
        guards=[requires(perms.INVITATIONS_ACCEPT)],
        status_code=200,
        summary="Accept an invitation by its token (single use; a retry by the same person is a no-op)",
    )
    async def accept(
        self, data: JSONBody[AcceptInvitation], uow: NamedDependency[UnitOfWork]
    ) -> AcceptedInvitation:
        return await invitations.accept_invitation(uow, data.token)
