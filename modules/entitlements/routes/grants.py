"""Grants of an organization: listed by its members, issued and revoked by operators."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from modules.entitlements import permissions as perm
from modules.entitlements.contracts import GrantDTO
from modules.entitlements.schemas import CreateGrant, RevokeGrant
from modules.entitlements.services import catalog, grants, orgs
from platform_core.core.errors import InvalidRequest
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class GrantController(Controller):
    path = "/entitlements/orgs/{org_id:uuid}/grants"
    tags = ["entitlements"]

    @post(
        "/",
        guards=[requires(perm.GRANTS_WRITE)],
        status_code=201,
        summary="Grant a set to a pool (operators)",
    )
    async def create(
        self,
        org_id: FromPath[uuid.UUID],
        data: JSONBody[CreateGrant],
        uow: NamedDependency[UnitOfWork],
    ) -> GrantDTO:
        await orgs.require_platform(uow, perm.GRANTS_WRITE)
        if (data.entitlement_set_id is None) == (data.set_key is None):
            raise InvalidRequest(
                "name the set by entitlement_set_id or set_key (one of them)",
                errors=[{"field": "entitlement_set_id", "source": "body", "message": "exactly one of two"}],
            )

        set_id = data.entitlement_set_id
        if set_id is None:
            assert data.set_key is not None
            set_id = (await catalog.get_set(uow, data.set_key)).id
        return await grants.create_grant(
            uow,
            org_id,
            pool_id=data.pool_id,
            entitlement_set_id=set_id,
            reason=data.reason,
            ends_at=data.ends_at,
            starts_at=data.starts_at,
            quantity=data.quantity,
            billing_cycle=data.billing_cycle,
        )

    @get("/", guards=[requires(perm.GRANTS_READ)], summary="List grants")
    async def list_grants(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        pool_id: FromQuery[uuid.UUID | None] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[GrantDTO]:
        return await grants.list_grants(uow, org_id, pool_id=pool_id, limit=check_limit(limit), cursor=cursor)

    @get("/{grant_id:uuid}", guards=[requires(perm.GRANTS_READ)], summary="Get a grant")
    async def get_grant(
        self, org_id: FromPath[uuid.UUID], grant_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> GrantDTO:
        return await grants.get_grant(uow, org_id, grant_id)

    @post(
        "/{grant_id:uuid}/revoke",
        guards=[requires(perm.GRANTS_WRITE)],
        status_code=200,
        summary="Revoke a grant now (operators)",
    )
    async def revoke(
        self,
        org_id: FromPath[uuid.UUID],
        grant_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        data: JSONBody[RevokeGrant | None] = None,
    ) -> GrantDTO:
        await orgs.require_platform(uow, perm.GRANTS_WRITE)
        return await grants.revoke_grant(uow, org_id, grant_id, reason=data.reason if data else None)
