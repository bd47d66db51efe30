"""Who may call identity's routes. Identity cannot see organizations (it sits below them in
the module chain), so it does not ask the RBAC authorizer: a person may act on their own
person and tokens, and platform operators (credentials with the `platform:admin` scope) on
anyone's; everyone else gets 404, as if the person did not exist. Listing the persons of an
organization is organization's `/orgs/{org_id}/persons`."""

from __future__ import annotations

import uuid
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from platform_core.core.errors import Forbidden, NotFound, Unauthenticated
from platform_core.core.principal import Principal
from platform_core.http.auth import scope_allows
from platform_core.messaging.uow import UnitOfWork


def _principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal = connection.scope.get("user")
    if not isinstance(principal, Principal):
        raise Unauthenticated()
    return principal


def caller(uow: UnitOfWork) -> Principal:
    """The authenticated principal of a request whose route is behind one of these guards."""
    assert uow.principal is not None, "the route is not behind authentication"
    return uow.principal


def _check_scope(principal: Principal, permission: str) -> None:
    if not scope_allows(principal, permission):
        raise Forbidden(f"the credential's scopes do not include {permission}", code="insufficient_scope")


def _declare(guard: Any, permission: str) -> Guard:
    guard.permission = permission  # read by platform_core.http.auth.permission_of
    return guard  # type: ignore[no-any-return]


def self_or_operator(permission: str) -> Guard:
    """The person named by the `person_id` path parameter, or a platform operator."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = _principal(connection)
        if principal.is_platform_admin:
            return
        person_id = connection.path_params.get("person_id")
        if principal.type != "person" or not isinstance(person_id, uuid.UUID) or person_id != principal.id:
            raise NotFound(code="person_not_found")
        _check_scope(principal, permission)

    return _declare(guard, permission)


def operator_on_person(permission: str) -> Guard:
    """Platform operators only; to anyone else the person does not exist."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if not _principal(connection).is_platform_admin:
            raise NotFound(code="person_not_found")

    return _declare(guard, permission)


def operator(permission: str) -> Guard:
    """Platform operators only, on a route that names no resource (nothing to hide)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if not _principal(connection).is_platform_admin:
            raise Forbidden(f"{permission} is for platform operators", code="platform_operator_only")

    return _declare(guard, permission)


def the_person(permission: str) -> Guard:
    """The calling person's own resources (`/identity/me…`); a service account is no person."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = _principal(connection)
        if principal.type != "person":
            raise NotFound("the credential does not belong to a person", code="not_a_person")
        if not principal.is_platform_admin:
            _check_scope(principal, permission)

    return _declare(guard, permission)
