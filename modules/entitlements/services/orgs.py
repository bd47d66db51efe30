"""What entitlements needs to know of organization, asked through its public api only."""

from __future__ import annotations

import uuid

from modules.organization import api as org_api
from platform_core.cache.hot_cache import HotCaches
from platform_core.core.errors import Forbidden, NotFound, Unauthenticated
from platform_core.core.principal import Principal
from platform_core.http.auth import scope_allows
from platform_core.messaging.uow import UnitOfWork


async def ensure_org(uow: UnitOfWork, org_id: uuid.UUID) -> None:
    await org_api.get_organization(uow, org_id)


async def workspace_in_org(uow: UnitOfWork, org_id: uuid.UUID, workspace_id: uuid.UUID) -> bool:
    return await org_api.workspace_in_org(uow, org_id, workspace_id)


async def authorize(
    uow: UnitOfWork,
    permission: str,
    org_id: uuid.UUID,
    workspace_id: uuid.UUID | None = None,
    *,
    org_known: bool = False,
) -> None:
    """The route guard's decision for routes whose organization is only known once the
    workspace has been looked up: 404 without standing in the organization, 403 without the
    permission (or when the credential's scopes exclude it). `org_known`: the organization
    was read from one of our rows, so it exists."""
    principal = uow.principal
    if principal is None:
        raise Unauthenticated()
    if principal.is_platform_admin:
        if not org_known:  # RBAC would have answered 404 for an unknown organization
            await ensure_org(uow, org_id)
        return
    if not scope_allows(principal, permission):
        raise Forbidden(f"the credential's scopes do not include {permission}", code="insufficient_scope")
    decision = await org_api.is_allowed(uow, principal, permission, org_id, workspace_id)
    if decision is None:
        raise NotFound()
    if not decision:
        raise Forbidden(f"{permission} is required", code="permission_denied")


def allowed_cached(
    caches: HotCaches | None,
    principal: Principal,
    permission: str,
    org_id: uuid.UUID,
    workspace_id: uuid.UUID | None = None,
) -> bool:
    """`authorize` would let this through, known without a database round trip (a platform
    admin, or an allowing RBAC decision in the process's hot cache). False: call `authorize`."""
    if not principal.is_platform_admin and not scope_allows(principal, permission):
        return False
    return org_api.allowed_from_cache(caches, principal, permission, org_id, workspace_id)


async def require_platform(uow: UnitOfWork, permission: str) -> None:
    """A permission only platform-scope roles (operators) hold, even inside an organization
    whose own admins hold `entitlements.*:*`: organizations must not grant themselves capacity."""
    principal = uow.principal
    if principal is None:
        raise Unauthenticated()
    if principal.is_platform_admin:
        return
    if not scope_allows(principal, permission) or not await org_api.is_allowed(
        uow, principal, permission, None
    ):
        raise Forbidden(f"{permission} is reserved to platform operators", code="permission_denied")
