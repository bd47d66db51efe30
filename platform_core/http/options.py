"""`OPTIONS` lists every method of the path, the same as a 405's `Allow`.

Litestar answers `OPTIONS` from a handler made with the first route registered at a path; when
more handlers for that path are registered later (another controller, another method), the
route is rebuilt but keeps that first handler, which still lists only the first methods. The
405 `Allow` comes from the routing tree and is right. This wrapper sets the `Allow` of an
`OPTIONS` answer from the app's routes, once known; other requests pass untouched."""

from __future__ import annotations

from collections import defaultdict

from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send


def allowed_methods(app: Litestar) -> dict[str, bytes]:
    """Each route's path template (`/orgs/{org_id}`) → its `Allow` value."""
    methods: dict[str, set[str]] = defaultdict(set)
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            methods[route.path_format].update(route.methods)
    return {path: ", ".join(sorted(m)).encode() for path, m in methods.items()}


class OptionsAllow:
    def __init__(self, app: ASGIApp, allowed: dict[str, bytes]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "OPTIONS":
            await self.app(scope, receive, send)
            return

        async def send_allow(message: Message) -> None:
            allow = self.allowed.get(scope.get("path_template", ""))
            if message["type"] == "http.response.start" and allow is not None:
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                message = {**message, "headers": [*headers, (b"allow", allow)]}
            await send(message)

        await self.app(scope, receive, send_allow)
