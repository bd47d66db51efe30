"""The catalog (platform operators): resource keys and versioned entitlement sets."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, PathParameter

from modules.entitlements import permissions as perm
from modules.entitlements.contracts import EntitlementSetDTO, ResourceKeyDTO
from modules.entitlements.schemas import CreateResourceKey, CreateSet, Rules
from modules.entitlements.services import catalog
from platform_core.core.ranges import INT32_MAX
from platform_core.http import idempotency
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit

SetVersion = Annotated[int, PathParameter(ge=1, le=INT32_MAX)]  # versions are `integer`


class CatalogController(Controller):
    path = "/entitlements"
    tags = ["entitlements"]

    @post(
        "/resource-keys",
        guards=[requires(perm.CATALOG_WRITE)],
        status_code=201,
        summary="Create a resource key",
    )
    async def create_key(
        self,
        data: JSONBody[CreateResourceKey],
        uow: NamedDependency[UnitOfWork],
    ) -> ResourceKeyDTO:
        return await catalog.create_resource_key(
            uow,
            key=data.key,
            name=data.name,
            kind=data.kind,
            unit=data.unit,
            aggregation=data.aggregation,
            default_value=data.default_value,
            description=data.description,
        )

    @get("/resource-keys", guards=[requires(perm.CATALOG_READ)], summary="List resource keys")
    async def list_keys(
        self, uow: NamedDependency[UnitOfWork], limit: Limit = None, cursor: Cursor = None
    ) -> Page[ResourceKeyDTO]:
        return await catalog.list_resource_keys(uow, limit=check_limit(limit), cursor=cursor)

    @get("/resource-keys/{key:str}", guards=[requires(perm.CATALOG_READ)], summary="Get a resource key")
    async def get_key(self, key: FromPath[str], uow: NamedDependency[UnitOfWork]) -> ResourceKeyDTO:
        return await catalog.get_resource_key(uow, key)

    @post("/sets", guards=[requires(perm.CATALOG_WRITE)], status_code=201, summary="Create a set (version 1)")
    async def create_set(
        self, data: JSONBody[CreateSet], uow: NamedDependency[UnitOfWork]
    ) -> EntitlementSetDTO:
        return await catalog.create_set(
            uow, key=data.key, name=data.name, description=data.description, rules=data.rules
        )

    @put(
        "/sets/{key:str}",
        guards=[requires(perm.CATALOG_WRITE)],
        status_code=201,
        summary="Edit a set: creates its next version; provisions keep the version they were made from",
        opt=idempotency.honoured(),
    )
    async def edit_set(
        self,
        key: FromPath[str],
        data: JSONBody[Rules],
        uow: NamedDependency[UnitOfWork],
    ) -> EntitlementSetDTO:
        return await catalog.new_set_version(
            uow, key, name=data.name, description=data.description, rules=data.rules
        )

    @get("/sets", guards=[requires(perm.CATALOG_READ)], summary="List sets (latest versions)")
    async def list_sets(
        self, uow: NamedDependency[UnitOfWork], limit: Limit = None, cursor: Cursor = None
    ) -> Page[EntitlementSetDTO]:
        return await catalog.list_sets(uow, limit=check_limit(limit), cursor=cursor)

    @get("/sets/{key:str}", guards=[requires(perm.CATALOG_READ)], summary="Get a set's latest version")
    async def get_set(self, key: FromPath[str], uow: NamedDependency[UnitOfWork]) -> EntitlementSetDTO:
        return await catalog.get_set(uow, key)

    @get("/sets/{key:str}/versions", guards=[requires(perm.CATALOG_READ)], summary="Every version of a set")
    async def versions(self, key: FromPath[str], uow: NamedDependency[UnitOfWork]) -> list[EntitlementSetDTO]:
        return await catalog.list_set_versions(uow, key)

    @get(
        "/sets/{key:str}/versions/{version:int}",
        guards=[requires(perm.CATALOG_READ)],
        summary="One version of a set",
    )
    async def version(
        self, key: FromPath[str], version: SetVersion, uow: NamedDependency[UnitOfWork]
    ) -> EntitlementSetDTO:
        return await catalog.get_set(uow, key, version)
