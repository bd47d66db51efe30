"""Per-request Prometheus metrics, the same series Litestar's Prometheus plugin exports
(`litestar_requests_total`, `litestar_request_duration_seconds`, `litestar_requests_in_progress`,
`litestar_requests_error_total`; labels method, path template, status_code, app_name), written
by a lean ASGI middleware: the plugin's middleware builds a Request and several label dicts per
request, which cost a hot endpoint a fifth of its time. Label children are looked up once per
(method, route, status) and kept. The request counters see every answer, whatever raised it
(see `RequestMetricsMiddleware`); the in-progress gauge is kept per matched route."""

from __future__ import annotations

import time
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram

PREFIX = "litestar"
UNMATCHED = "<unmatched>"  # the path label of requests that matched no route
LABELS = ("method", "path", "status_code", "app_name")

REQUESTS = Counter(f"{PREFIX}_requests_total", "Total requests", LABELS)
DURATION = Histogram(f"{PREFIX}_request_duration_seconds", "Request duration, in seconds", LABELS)
ERRORS = Counter(f"{PREFIX}_requests_error_total", "Total errors in requests", LABELS)
IN_PROGRESS = Gauge(
    f"{PREFIX}_requests_in_progress",
    "Total requests currently in progress",
    ("method", "path", "app_name"),
    multiprocess_mode="livesum",
)


_FINISHED: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}


def observe(app_name: str, method: str, path: str, status: int, seconds: float) -> None:
    """Count one finished request (label children are looked up once and kept)."""
    children = _FINISHED.get((app_name, method, path, status))
    if children is None:
        values = (method, path, str(status), app_name)
        children = _FINISHED[(app_name, method, path, status)] = (
            REQUESTS.labels(*values),
            DURATION.labels(*values),
        )
    children[0].inc()
    children[1].observe(seconds)
    if status >= 500:
        ERRORS.labels(method, path, str(status), app_name).inc()


class RequestMetricsMiddleware:
    """Counts every answer with the status actually sent. It wraps the whole application, outside
    Litestar's outermost exception handler: a 401 or 429 raised by the authentication middleware
    becomes its response before reaching here (inside the route's middleware stack it is still an
    exception, which would be counted as a 500), and a request that matches no route (404, 405)
    is counted too, under the fixed path label `UNMATCHED` so that unknown paths add no series."""

    def __init__(
        self, app: ASGIApp, app_name: str, exclude_prefixes: tuple[str, ...] = ("/metrics",)
    ) -> None:
        self.app = app
        self.app_name = app_name
        self.exclude = exclude_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["path"].startswith(self.exclude):
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            # the router sets the template on the scope; a request it did not route has none
            path: str = scope.get("path_template") or UNMATCHED  # type: ignore[assignment]
            observe(self.app_name, scope["method"], path, status, time.perf_counter() - started)  # type: ignore[typeddict-item]


class RequestsInProgressMiddleware:
    """The in-progress gauge, per route: a route middleware, since the route (its path
    template) is known only once the router has matched it."""

    def __init__(
        self, app: ASGIApp, app_name: str, exclude_prefixes: tuple[str, ...] = ("/metrics",)
    ) -> None:
        self.app = app
        self.app_name = app_name
        self.exclude = exclude_prefixes
        self._running: dict[tuple[str, str], Any] = {}

    def _gauge(self, method: str, path: str) -> Any:
        gauge = self._running.get((method, path))
        if gauge is None:
            gauge = self._running[(method, path)] = IN_PROGRESS.labels(method, path, self.app_name)
        return gauge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["path"].startswith(self.exclude):
            await self.app(scope, receive, send)
            return
        running = self._gauge(scope["method"], scope["path_template"])  # type: ignore[typeddict-item]
        running.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            running.dec()
