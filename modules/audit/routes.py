"""audit's HTTP routes under /audit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from modules.audit.contracts import AuditLogDTO, VerifyResult
from modules.audit.services.queries import LogFilter, list_logs, verify_chains
from platform_core.core.errors import InvalidRequest
from platform_core.core.principal import Principal
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


def _org_scope(principal: Principal, org_id: uuid.UUID | None) -> tuple[uuid.UUID | None, bool]:
    """Platform admins read any chain (all of them when no org is named); others must name
    an organization, and the route guard has checked their permission there."""
    if org_id is None and not principal.is_platform_admin:
        raise InvalidRequest(
            "org_id is required",
            code="org_id_required",
            errors=[{"field": "org_id", "source": "query", "message": "required"}],
        )
    return org_id, principal.is_platform_admin and org_id is None


class AuditController(Controller):
    path = "/audit"
    tags = ["audit"]

    @get("/logs", guards=[requires("audit.logs:read")], summary="List audit records, newest first")
    async def logs(
        self,
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
        org_id: FromQuery[uuid.UUID | None] = None,
        action: Annotated[
            str | None, QueryParameter(max_length=200, description="exact, or a glob with *")
        ] = None,
        actor_id: Annotated[str | None, QueryParameter(max_length=200)] = None,
        target_id: Annotated[str | None, QueryParameter(max_length=200)] = None,
        since: Annotated[datetime | None, QueryParameter(name="from")] = None,
        until: Annotated[datetime | None, QueryParameter(name="to")] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[AuditLogDTO]:
        org, all_orgs = _org_scope(principal, org_id)
        flt = LogFilter(
            org_id=org, all_orgs=all_orgs, action=action, actor_id=actor_id,
            target_id=target_id, since=since, until=until,
        )  # fmt: skip
        return await list_logs(uow.session, flt, limit=check_limit(limit), cursor=cursor)

    @get("/verify", guards=[requires("audit.logs:verify")], summary="Recompute the hash chain")
    async def verify(
        self,
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
        org_id: FromQuery[uuid.UUID | None] = None,
    ) -> VerifyResult:
        org, all_orgs = _org_scope(principal, org_id)
        return await verify_chains(uow.session, org_id=org, all_orgs=all_orgs)
