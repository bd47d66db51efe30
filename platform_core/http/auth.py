"""Bearer-credential authentication middleware and permission guards."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp, Guard, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession

from platform_core.auth.credentials import CredentialContext
from platform_core.core.errors import (
    Forbidden,
    NotFound,
    ProblemError,
    TooManyRequests,
    Unauthenticated,
    bearer_challenge,
)
from platform_core.core.principal import Principal
from platform_core.runtime.runtime import Registry, Runtime

log = logging.getLogger(__name__)


def _request_headers(scope: Scope) -> dict[bytes, bytes]:
    """The headers authentication reads, from the raw ASGI list in one pass (building Litestar's
    Headers object for each costs more than the credential lookup from the cache)."""
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in _AUTH_HEADERS:
            found.setdefault(name, value)
    return found


_AUTH_HEADERS = frozenset({b"authorization", b"origin", b"user-agent"})


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


def _bearer(header: str | None) -> str:
    if not header:
        raise Unauthenticated("send an `Authorization: Bearer <token>` header", code="missing_credential")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer":  # another scheme: RFC 6750 answers with the bare challenge
        raise Unauthenticated(
            "the Authorization header must use the Bearer scheme", code="malformed_credential"
        )
    if not token:
        raise Unauthenticated(
            "the Authorization header must use the Bearer scheme",
            code="malformed_credential",
            bearer_error="invalid_request",
        )
    return token


# The session a credential was resolved on stays open for the rest of the request: the route
# guard's authorizer and the request's unit of work use it too, so an authenticated request
# costs one connection checkout and one transaction, not three.
REQUEST_SESSION = "keel.request_session"


def request_session(scope: Scope) -> AsyncSession | None:
    session = scope.get(REQUEST_SESSION)  # type: ignore[misc]
    return session if isinstance(session, AsyncSession) else None


def adopt_request_session(scope: Scope) -> AsyncSession | None:
    """Take over the request's session (the unit of work then commits and closes it)."""
    session = request_session(scope)
    scope.pop(REQUEST_SESSION, None)  # type: ignore[misc]
    return session


async def _finish(session: AsyncSession, *, commit: bool = True) -> None:
    """Close a request session no unit of work adopted, keeping what resolvers wrote (last use,
    just-in-time users) unless the request failed on the database."""
    if not session.in_transaction():  # never touched the database: nothing to commit or close
        return
    try:
        if commit:
            await session.commit()
    except Exception:  # the response is already decided; a lost `last_used_at` is harmless
        log.warning("could not commit the request session", exc_info=True)
    finally:
        await session.close()  # rolls back whatever is still open


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    def __init__(self, app: ASGIApp, registry: Registry, exclude_prefixes: Sequence[str]) -> None:
        super().__init__(
            app,
            exclude=[f"^{prefix}" for prefix in exclude_prefixes],
            exclude_from_auth_key="exclude_from_auth",
            scopes=None,
        )
        # longest prefix first so `keel_pat` never shadows a longer one
        self._resolvers = sorted(registry.resolvers.items(), key=lambda kv: -len(kv[0]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            session = adopt_request_session(scope)  # still here: no unit of work took it
            if session is not None:
                await _finish(session)

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        headers = _request_headers(connection.scope)
        token = _bearer(_text(headers.get(b"authorization")))
        runtime = connection.app.state.runtime
        client = connection.scope.get("client")
        context = CredentialContext(
            pepper=runtime.settings.token_pepper,
            source_ip=client[0] if client else None,
            origin=_text(headers.get(b"origin")),
            user_agent=_text(headers.get(b"user-agent")),
            settings=runtime.settings,
            bus=runtime.registry.bus,
            caches=runtime.caches,
        )
        resolver = next((r for prefix, r in self._resolvers if token.startswith(prefix)), None)
        if resolver is None:
            raise Unauthenticated(
                "the credential is not recognised", code="invalid_credential", bearer_error="invalid_token"
            )
        opened: list[AsyncSession] = []

        def session() -> AsyncSession:
            if not opened:
                opened.append(runtime.sessionmaker())
            return opened[0]

        try:
            principal = await resolver(session, token, context)
            if principal is None:
                raise Unauthenticated(
                    "the credential is invalid, expired or revoked",
                    code="invalid_credential",
                    bearer_error="invalid_token",
                )
            await _enforce_rate_limit(runtime, principal)
        except BaseException as exc:
            if opened:
                await _finish(opened[0], commit=isinstance(exc, ProblemError))
            raise
        if opened and opened[0].in_transaction():  # kept for the guard and the unit of work
            connection.scope[REQUEST_SESSION] = opened[0]  # type: ignore[literal-required]
        return AuthenticationResult(user=principal, auth=token)


async def _enforce_rate_limit(runtime: Runtime, principal: Principal) -> None:
    limit = principal.rate_limit_per_min
    if limit is None or principal.credential_id is None:
        return
    decision = await runtime.rate_limiter.hit(f"credential:{principal.credential_id}", limit)
    if not decision.allowed:
        raise TooManyRequests(
            f"this credential allows {limit} requests per minute",
            code="rate_limited",
            headers={"Retry-After": str(decision.retry_after)},
        )


def _uuid_param(connection: ASGIConnection[Any, Any, Any, Any], name: str) -> uuid.UUID | None:
    """A scope id from the path, else from the query string (e.g. `/audit/logs?org_id=`)."""
    value = connection.path_params.get(name)
    if isinstance(value, uuid.UUID):
        return value
    raw = connection.query_params.get(name)
    if raw:
        try:
            return uuid.UUID(raw)
        except ValueError:
            return None
    return None


def _scope_ids(connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    return _uuid_param(connection, "org_id"), _uuid_param(connection, "workspace_id")


def _parts(permission: str) -> tuple[str, str, str]:
    module_resource, _, action = permission.partition(":")
    module, _, resource = module_resource.partition(".")
    return module, resource, action


def scope_allows(principal: Principal, permission: str) -> bool:
    """A token's own scopes narrow what its holder may do; `*` means no narrowing, and any
    part of `<module>.<resource>:<action>` may be `*` (`billing.*:read`, `audit.logs:*`)."""
    if "*" in principal.scopes or permission in principal.scopes:
        return True
    wanted = _parts(permission)
    return any(
        all(have in ("*", want) for have, want in zip(_parts(scope), wanted, strict=True))
        for scope in principal.scopes
        if "*" in scope
    )


def requires(permission: str, *, platform_scope: bool = False) -> Guard:
    """Route guard: the principal must hold `permission` (RBAC via the registered authorizer)
    in the organization/workspace named by the route's `org_id`/`workspace_id` path params.
    A principal with no standing in that organization gets 404, never a hint that it exists.
    `platform_scope`: only a platform-scope grant counts (operators), even on a route under
    an organization, whose own roles (e.g. `billing.*:*`) must not grant it; a principal
    without standing there still gets 404, one with standing but no such grant 403."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = connection.scope.get("user")
        if not isinstance(principal, Principal):
            raise Unauthenticated()
        if principal.is_platform_admin:
            return
        if not scope_allows(principal, permission):
            challenge = f'{bearer_challenge("insufficient_scope")}, scope="{permission}"'
            raise Forbidden(
                f"the credential's scopes do not include {permission}",
                code="insufficient_scope",
                headers={"WWW-Authenticate": challenge},
            )
        org_id, workspace_id = _scope_ids(connection)
        registry: Registry = connection.app.state.runtime.registry
        authorizer = registry.authorizer
        if authorizer is None:
            raise Forbidden(f"{permission} is required", code="permission_denied")
        session = request_session(connection.scope)
        if session is None:  # opened lazily: the unit of work adopts it, or the middleware closes it
            session = connection.app.state.runtime.sessionmaker()
            connection.scope[REQUEST_SESSION] = session  # type: ignore[literal-required]
        decision = await authorizer.is_allowed(session, principal, permission, org_id, workspace_id)
        if platform_scope and decision is not None:  # standing in the organization, now the grant
            decision = await authorizer.is_allowed(session, principal, permission, None, None)
        if decision is None:
            raise NotFound()
        if not decision:
            raise Forbidden(f"{permission} is required", code="permission_denied")

    guard.permission = permission  # type: ignore[attr-defined]
    return guard


def permission_of(handler: BaseRouteHandler) -> str | None:
    for guard in handler.guards or ():
        permission = getattr(guard, "permission", None)
        if permission:
            return str(permission)
    return None
