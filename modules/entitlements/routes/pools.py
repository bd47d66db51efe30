"""An organization's resource pools, workspace assignments, on-demand config, provisions."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from modules.entitlements import permissions as perm
from modules.entitlements.contracts import (
    OndemandConfigDTO,
    PoolAssignmentDTO,
    PoolDTO,
    PoolEntitlementsDTO,
    ProvisionDTO,
)
from modules.entitlements.schemas import CreatePool, CreateProvision, SetOndemand
from modules.entitlements.services import grants, orgs, pools, provisions
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class PoolController(Controller):
    path = "/entitlements/orgs/{org_id:uuid}"
    tags = ["entitlements"]

    @post("/pools", guards=[requires(perm.POOLS_WRITE)], status_code=201, summary="Create a resource pool")
    async def create(
        self,
        org_id: FromPath[uuid.UUID],
        data: JSONBody[CreatePool],
        uow: NamedDependency[UnitOfWork],
    ) -> PoolDTO:
        return await pools.create_pool(uow, org_id, name=data.name, description=data.description)

    @get("/pools", guards=[requires(perm.POOLS_READ)], summary="List resource pools")
    async def list_pools(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[PoolDTO]:
        return await pools.list_pools(uow, org_id, limit=check_limit(limit), cursor=cursor)

    @get("/pools/{pool_id:uuid}", guards=[requires(perm.POOLS_READ)], summary="Get a resource pool")
    async def get_pool(
        self, org_id: FromPath[uuid.UUID], pool_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> PoolDTO:
        return await pools.get_pool(uow, org_id, pool_id)

    @get(
        "/pools/{pool_id:uuid}/entitlements",
        guards=[requires(perm.POOLS_READ)],
        summary="The pool's materialized entitlements and their schedules",
    )
    async def entitlements(
        self, org_id: FromPath[uuid.UUID], pool_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> PoolEntitlementsDTO:
        return await pools.pool_entitlements(uow, org_id, pool_id)

    @get(
        "/pools/{pool_id:uuid}/provisions",
        guards=[requires(perm.POOLS_READ)],
        summary="Why the pool has capacity",
    )
    async def list_provisions(
        self, org_id: FromPath[uuid.UUID], pool_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> list[ProvisionDTO]:
        await pools.get_pool_row(uow, org_id, pool_id)
        return await provisions.list_provisions(uow, org_id, pool_id)

    @post(
        "/pools/{pool_id:uuid}/provisions",
        guards=[requires(perm.GRANTS_WRITE)],
        status_code=201,
        summary="Provision a pool from one of its grants (operators)",
        description="Only a source that exists: a grant of the organization for this pool (a grant"
        " is provisioned when it is created, so this answers its provision, or 409 if the terms"
        " differ). Subscriptions and purchases are provisioned by billing; to give capacity by"
        " hand, create a grant (`POST …/grants`).",
    )
    async def provision(
        self,
        org_id: FromPath[uuid.UUID],
        pool_id: FromPath[uuid.UUID],
        data: JSONBody[CreateProvision],
        uow: NamedDependency[UnitOfWork],
    ) -> ProvisionDTO:
        await orgs.require_platform(uow, perm.GRANTS_WRITE)
        await grants.grant_in_pool(uow, org_id, data.source_id, pool_id)
        return await provisions.provision(
            uow,
            org_id=org_id,
            pool_id=pool_id,
            source_type=data.source_type,
            source_id=data.source_id,
            entitlement_set_id=data.entitlement_set_id,
            quantity=data.quantity,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            billing_cycle=data.billing_cycle,
        )

    @post(
        "/provisions/{provision_id:uuid}/end",
        guards=[requires(perm.GRANTS_WRITE)],
        status_code=200,
        summary="End a provision now (operators)",
    )
    async def end_provision(
        self, org_id: FromPath[uuid.UUID], provision_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> ProvisionDTO:
        await orgs.require_platform(uow, perm.GRANTS_WRITE)
        return await provisions.deprovision(uow, provision_id, org_id=org_id)

    @get(
        "/pools/{pool_id:uuid}/workspaces",
        guards=[requires(perm.POOLS_READ)],
        summary="Workspaces using the pool",
    )
    async def list_workspaces(
        self, org_id: FromPath[uuid.UUID], pool_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> list[PoolAssignmentDTO]:
        return await pools.list_assignments(uow, org_id, pool_id)

    @put(
        "/pools/{pool_id:uuid}/workspaces/{workspace_id:uuid}",
        guards=[requires(perm.POOLS_WRITE)],
        summary="Make a workspace use this pool (moves it from another pool)",
    )
    async def assign(
        self,
        org_id: FromPath[uuid.UUID],
        pool_id: FromPath[uuid.UUID],
        workspace_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
    ) -> PoolAssignmentDTO:
        return await pools.assign_workspace(uow, org_id, pool_id, workspace_id)

    @delete(
        "/pools/{pool_id:uuid}/workspaces/{workspace_id:uuid}",
        guards=[requires(perm.POOLS_WRITE)],
        status_code=204,
        summary="Stop a workspace using this pool",
    )
    async def unassign(
        self,
        org_id: FromPath[uuid.UUID],
        pool_id: FromPath[uuid.UUID],
        workspace_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
    ) -> None:
        await pools.unassign_workspace(uow, org_id, pool_id, workspace_id)

    @get("/pools/{pool_id:uuid}/ondemand", guards=[requires(perm.POOLS_READ)], summary="On-demand config")
    async def list_ondemand(
        self, org_id: FromPath[uuid.UUID], pool_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> list[OndemandConfigDTO]:
        return await pools.list_ondemand(uow, org_id, pool_id)

    @put(
        "/pools/{pool_id:uuid}/ondemand/{resource_key:str}",
        guards=[requires(perm.POOLS_WRITE, platform_scope=True)],
        summary="Enable or change on-demand (billable overage past soft limits) for one key (operators)",
        description="The price and the cap decide what the organization is billed, so only operators"
        " set them; billing refuses (422 invalid_price_ref) a price_ref that names no per-unit"
        " price in the account's currency.",
    )
    async def set_ondemand(
        self,
        org_id: FromPath[uuid.UUID],
        pool_id: FromPath[uuid.UUID],
        resource_key: FromPath[str],
        data: JSONBody[SetOndemand],
        uow: NamedDependency[UnitOfWork],
    ) -> OndemandConfigDTO:
        return await pools.set_ondemand(
            uow, org_id, pool_id, resource_key, enabled=data.enabled, price_ref=data.price_ref, cap=data.cap
        )
