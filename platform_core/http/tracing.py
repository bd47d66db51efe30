"""HTTP server spans, by OpenTelemetry's ASGI middleware, for apps created while tracing is on
(see `platform_core.runtime.tracing`); while it is off `traced` returns the app untouched.

A span is named `METHOD route-template` (`GET /identity/persons/{person_id}`), never by the raw
path; a request that matched no route keeps the bare method, as OpenTelemetry's HTTP conventions
say. The middleware's own per-message `receive`/`send` spans are left out."""

from __future__ import annotations

from collections.abc import Collection

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.util.http import get_excluded_urls

from platform_core.core import telemetry


def _method_only(scope: Scope) -> tuple[str, dict[str, str]]:
    return str(scope.get("method") or "HTTP"), {}


class _NameSpanByRoute:
    """Renames the current server span when the response starts: the router (or the fast lane)
    has found the route by then, and the span ends with the response's last byte."""

    def __init__(self, app: ASGIApp, fixed_paths: Collection[str]) -> None:
        self.app = app
        self.fixed_paths = frozenset(fixed_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        raw_path = scope["path"]
        span = trace.get_current_span()

        async def send_naming_span(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = scope.get("path_template") or (raw_path if raw_path in self.fixed_paths else None)
                if route:
                    span.update_name(f"{scope['method']} {route}")  # type: ignore[typeddict-item]
                    span.set_attribute("http.route", str(route))
            await send(message)

        await self.app(scope, receive, send_naming_span)


def traced(app: ASGIApp, fixed_paths: Collection[str] = ()) -> ASGIApp:
    """`app` with a server span per request while tracing is on. `fixed_paths` are routes
    answered without Litestar's router (the fast lane), named by their path."""
    provider = telemetry.tracer_provider()
    if provider is None:
        return app
    return OpenTelemetryMiddleware(  # type: ignore[return-value]
        _NameSpanByRoute(app, fixed_paths),
        tracer_provider=provider,
        default_span_details=_method_only,
        excluded_urls=get_excluded_urls("ASGI"),  # OTEL_PYTHON_ASGI_EXCLUDED_URLS
        exclude_spans=["receive", "send"],
    )
