"""Usage ingestion, the usage trail, and the entitlement check (the products' hot path)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from modules.entitlements import permissions as perm
from modules.entitlements.contracts import (
    CheckQuantity,
    CheckResult,
    IngestResult,
    UsageEventDTO,
    UsageStatus,
)
from modules.entitlements.routes.common import declares
from modules.entitlements.schemas import CheckBatch, CheckBatchResult, UsageBatch
from modules.entitlements.services import check as checks
from modules.entitlements.services import ingest, orgs, trail
from platform_core.core.errors import InvalidRequest, NotFound
from platform_core.core.principal import Principal
from platform_core.http import idempotency
from platform_core.http.app import runtime_of
from platform_core.http.auth import requires
from platform_core.http.hot_routes import hot_get
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit

KEY_MAX_LENGTH = 100
KeyParam = Annotated[str, QueryParameter(min_length=1, max_length=KEY_MAX_LENGTH)]
MAX_CHECK_QUANTITY = Decimal("1e15")
QuantityParam = Annotated[
    str | None, QueryParameter(pattern=CheckQuantity.pattern, description="A decimal, 0 <= quantity < 1e15")
]


def _batch_org(uow: UnitOfWork, org_id: uuid.UUID | None) -> uuid.UUID:
    """The organization a request acts in: `org_id`, else the service account's own."""
    principal = uow.principal
    own = principal.org_id if principal is not None else None
    if org_id is None and own is None:
        raise InvalidRequest(
            "org_id is required",
            code="org_id_required",
            errors=[{"field": "org_id", "source": "query", "message": "required"}],
        )
    if org_id is not None and own is not None and org_id != own:
        raise NotFound()
    result = org_id or own
    assert result is not None
    return result


def _check_quantity(quantity: Decimal | None, field: str = "quantity") -> None:
    if quantity is not None and (not quantity.is_finite() or quantity < 0 or quantity > MAX_CHECK_QUANTITY):
        raise InvalidRequest(
            "quantity must be a number between 0 and 1e15",
            errors=[{"field": field, "source": "query", "message": "out of range"}],
        )


async def _no_pool(uow: UnitOfWork, workspace: uuid.UUID, key: str, org_id: uuid.UUID | None) -> CheckResult:
    """The workspace has no pool assignment: answer "workspace_without_pool" to those who may
    see the workspace, 404 otherwise (unknown, foreign, or no organization to look in)."""
    principal = uow.principal
    org = org_id or (principal.org_id if principal is not None else None)
    if org is None or not await orgs.workspace_in_org(uow, org, workspace):
        raise NotFound(f"workspace {workspace} does not exist or uses no pool", code="workspace_not_found")
    await orgs.authorize(uow, perm.CHECK, org, workspace, org_known=True)
    return CheckResult(key=key, allowed=False, kind=None, reason="workspace_without_pool")


class UsageController(Controller):
    path = "/entitlements"
    tags = ["entitlements"]

    @post(
        "/usage-events",
        guards=[declares(perm.USAGE_WRITE)],
        status_code=200,
        summary="Ingest a batch of up to 1,000 usage events (idempotent per event_id)",
    )
    async def ingest(
        self,
        data: JSONBody[UsageBatch],
        uow: NamedDependency[UnitOfWork],
        org_id: FromQuery[uuid.UUID | None] = None,
    ) -> IngestResult:
        org = _batch_org(uow, org_id)
        await orgs.authorize(uow, perm.USAGE_WRITE, org)

        return await ingest.ingest(uow, org, data.events)

    @get(
        "/orgs/{org_id:uuid}/usage-events",
        guards=[requires(perm.USAGE_READ)],
        summary="The usage trail: accepted and rejected usage events, newest first",
    )
    async def usage_trail(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        workspace_id: FromQuery[uuid.UUID | None] = None,
        resource_key: Annotated[str | None, QueryParameter(max_length=100)] = None,
        status: FromQuery[UsageStatus | None] = None,
        since: Annotated[datetime | None, QueryParameter(name="from")] = None,
        until: Annotated[datetime | None, QueryParameter(name="to")] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[UsageEventDTO]:
        flt = trail.TrailFilter(
            workspace_id=workspace_id, resource_key=resource_key, status=status, since=since, until=until
        )
        return await trail.list_usage(uow, org_id, flt, limit=check_limit(limit), cursor=cursor)

    @hot_get(
        "/check",
        guards=[declares(perm.CHECK)],
        summary="May the workspace use this key (for `quantity` more: a preflight that consumes nothing)?",
    )
    async def check(
        self,
        request: Request[Any, Any, Any],
        workspace: FromQuery[uuid.UUID],
        key: KeyParam,
        quantity: QuantityParam = None,
        org_id: FromQuery[uuid.UUID | None] = None,
    ) -> CheckResult:
        amount = Decimal(quantity) if quantity is not None else None
        _check_quantity(amount)
        runtime = runtime_of(request.app.state)
        located = await checks.check_pooled(runtime.engine, runtime.caches, workspace, key, amount)
        principal = request.scope.get("user")
        if (
            located is not None
            and isinstance(principal, Principal)
            and orgs.allowed_cached(runtime.caches, principal, perm.CHECK, located.org_id, workspace)
        ):
            return located.result
        # RBAC, and telling a pool-less workspace from a foreign one, need a unit of work
        async with runtime.uow(principal if isinstance(principal, Principal) else None) as uow:
            if located is None:
                return await _no_pool(uow, workspace, key, org_id)
            await orgs.authorize(uow, perm.CHECK, located.org_id, workspace, org_known=True)
            return located.result

    @post(
        "/check",
        guards=[declares(perm.CHECK)],
        status_code=200,
        summary="Up to 100 checks at once",
        opt=idempotency.exempt("reads only: asking twice changes nothing"),
    )
    async def check_batch(
        self,
        data: JSONBody[CheckBatch],
        uow: NamedDependency[UnitOfWork],
        org_id: FromQuery[uuid.UUID | None] = None,
    ) -> CheckBatchResult:
        for i, item in enumerate(data.checks):
            _check_quantity(item.quantity, f"checks[{i}].quantity")
        items = [(c.workspace, c.key, c.quantity) for c in data.checks]
        located = await checks.check_many(uow, items)
        authorized: set[tuple[uuid.UUID, uuid.UUID]] = set()
        results: list[CheckResult] = []
        for (workspace, key, _), found in zip(items, located, strict=True):
            if found is None:
                results.append(await _no_pool(uow, workspace, key, org_id))
                continue
            if (found.org_id, workspace) not in authorized:
                await orgs.authorize(uow, perm.CHECK, found.org_id, workspace, org_known=True)
                authorized.add((found.org_id, workspace))
            results.append(found.result)
        return CheckBatchResult(results=results)
