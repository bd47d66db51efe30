"""The fast lane: a few hot GET routes answered from the process's hot caches without going
through Litestar's routing, dependency injection and response machinery.

A module declares `fast_routes` (path → `FastHandler`) next to its ordinary Litestar route for
the same path, which stays the reference (OpenAPI, validation, every error). The lane only
*tries*: the bearer credential must resolve from its cache (the resolver is given a session
source that refuses to open a session), the principal must carry no rate limit, the query
string must be plain, and the handler must find everything it needs cached. Anything else,
including any exception, hands the untouched request to the full application, which answers
exactly as it would have without the lane. What the lane answers, it answers 200 with the same
JSON the full route would produce (tests compare both), and it counts the request in the same
Prometheus series.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from platform_core.auth.credentials import CredentialContext, CredentialResolver
from platform_core.http.metrics import observe
from platform_core.runtime.module import FastHandler, FastRequest

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from platform_core.runtime.runtime import Runtime

log = logging.getLogger(__name__)


class NeedsFullStack(Exception):
    """The request cannot be answered from the caches: let the full application handle it."""


_JSON_HEADERS = [(b"content-type", b"application/json")]


def _no_session() -> AsyncSession:
    raise NeedsFullStack()


def _query(scope: Scope) -> dict[str, str] | None:
    """Single-valued, decodable query parameters; None for anything else."""
    try:
        pairs = parse_qsl(scope["query_string"].decode("ascii"), strict_parsing=False)
    except UnicodeDecodeError:
        return None
    query = dict(pairs)
    return query if len(query) == len(pairs) else None


class FastLane:
    def __init__(
        self,
        app: ASGIApp,
        runtime: Runtime,
        routes: Mapping[str, FastHandler],
        resolvers: Mapping[str, CredentialResolver],
        app_name: str,
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.routes = dict(routes)
        self.resolvers = sorted(resolvers.items(), key=lambda kv: -len(kv[0]))
        self.app_name = app_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.routes.get(scope["path"]) if scope["type"] == ScopeType.HTTP else None
        if handler is not None and scope["method"] == "GET":  # type: ignore[typeddict-item]
            started = time.perf_counter()
            try:
                body = await self._answer(scope, handler)
            except NeedsFullStack:
                body = None
            except Exception:  # the full stack will answer (and report) whatever this was
                log.debug("fast lane: handing %s to the full stack", scope["path"], exc_info=True)
                body = None
            if body is not None:
                length = str(len(body)).encode()
                start: Any = {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [*_JSON_HEADERS, (b"content-length", length)],
                }
                await send(start)
                await send({"type": "http.response.body", "body": body, "more_body": False})
                observe(self.app_name, "GET", scope["path"], 200, time.perf_counter() - started)
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, handler: FastHandler) -> bytes | None:
        authorization = client_origin = user_agent = None
        for name, value in scope["headers"]:
            if name == b"authorization" and authorization is None:
                authorization = value
            elif name == b"origin" and client_origin is None:
                client_origin = value
            elif name == b"user-agent" and user_agent is None:
                user_agent = value
        if authorization is None or authorization[:7].lower() != b"bearer ":
            return None
        token = authorization[7:].strip().decode("latin-1")
        resolver = next((r for prefix, r in self.resolvers if token.startswith(prefix)), None)
        query = _query(scope)
        if resolver is None or query is None:
            return None
        client: Any = scope.get("client")
        settings = self.runtime.settings
        context = CredentialContext(
            pepper=settings.token_pepper,
            source_ip=client[0] if client else None,
            origin=client_origin.decode("latin-1") if client_origin is not None else None,
            user_agent=user_agent.decode("latin-1") if user_agent is not None else None,
            settings=settings,
            bus=self.runtime.registry.bus,
            caches=self.runtime.caches,
        )
        principal = await resolver(_no_session, token, context)
        if principal is None or principal.rate_limit_per_min is not None:
            return None
        return await handler(FastRequest(self.runtime.caches, principal, query))
