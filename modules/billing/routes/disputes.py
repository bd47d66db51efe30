"""Disputes: an organization's billing admins read theirs; operators read all."""

from __future__ import annotations

import uuid

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from modules.billing import permissions as perm
from modules.billing.contracts import DisputeDTO
from modules.billing.services import disputes
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class DisputeController(Controller):
    path = "/billing"
    tags = ["billing"]

    @get(
        "/orgs/{org_id:uuid}/disputes",
        guards=[requires(perm.DISPUTES_READ)],
        summary="The organization's disputes (chargebacks)",
    )
    async def org_disputes(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[DisputeDTO]:
        return await disputes.list_disputes(uow, org_id, limit=check_limit(limit), cursor=cursor)

    @get("/disputes", guards=[requires(perm.DISPUTES_READ)], summary="Every dispute (operators)")
    async def all_disputes(
        self, uow: NamedDependency[UnitOfWork], limit: Limit = None, cursor: Cursor = None
    ) -> Page[DisputeDTO]:
        return await disputes.list_disputes(uow, None, limit=check_limit(limit), cursor=cursor)
