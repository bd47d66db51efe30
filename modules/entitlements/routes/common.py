"""Helpers shared by entitlements's controllers."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from platform_core.core.errors import Forbidden, Unauthenticated
from platform_core.core.principal import Principal
from platform_core.http.auth import scope_allows


def declares(permission: str) -> Guard:
    """Guard for routes whose organization is only known after a lookup (a workspace id in
    the query or body): checks the credential here; the handler asks RBAC once it knows the
    organization (`services.orgs.authorize`)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = connection.scope.get("user")
        if not isinstance(principal, Principal):
            raise Unauthenticated()
        if not principal.is_platform_admin and not scope_allows(principal, permission):
            raise Forbidden(f"the credential's scopes do not include {permission}", code="insufficient_scope")

    guard.permission = permission  # type: ignore[attr-defined]
    return guard
