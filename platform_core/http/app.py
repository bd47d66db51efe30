"""The Litestar application factory: module routers, auth middleware, unit-of-work dependency,
problem+json errors, health/readiness/metrics and OpenAPI at /schema."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Litestar, Request, get
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusController
from litestar.types import ASGIApp

from platform_core.core.errors import EXCEPTION_HANDLERS
from platform_core.core.heap import settle_heap
from platform_core.core.principal import Principal
from platform_core.http.auth import BearerAuthMiddleware, adopt_request_session
from platform_core.http.fast_lane import FastLane
from platform_core.http.idempotency import EXCEPTION_HANDLERS as IDEMPOTENCY_HANDLERS
from platform_core.http.idempotency import KeelResponse, claim_key, save_response
from platform_core.http.input_limits import NulCharacterMiddleware
from platform_core.http.json_body import JSONRequest
from platform_core.http.metrics import RequestMetricsMiddleware, RequestsInProgressMiddleware
from platform_core.http.openapi import document, swagger_ui, swagger_ui_assets
from platform_core.http.options import OptionsAllow, allowed_methods
from platform_core.http.readiness import ready
from platform_core.http.request_id import RequestIdMiddleware
from platform_core.http.strict_signature import make_signatures_strict
from platform_core.http.tracing import traced
from platform_core.messaging.uow import RequestContext, UnitOfWork
from platform_core.runtime.runtime import Runtime

ALWAYS_PUBLIC = ("/health", "/ready", "/metrics", "/schema")


def runtime_of(state: State) -> Runtime:
    runtime: Runtime = state.runtime
    return runtime


def client_ip(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


async def provide_uow(request: Request[Any, Any, Any], state: State) -> AsyncGenerator[UnitOfWork, None]:
    """One request = one unit of work = one transaction, committed before the response is sent."""
    principal = request.scope.get("user")
    context = RequestContext(source_ip=client_ip(request), user_agent=request.headers.get("user-agent"))
    scope = runtime_of(state).uow(
        principal if isinstance(principal, Principal) else None,
        context,
        session=adopt_request_session(request.scope),
    )
    uow = await scope.__aenter__()
    try:
        await claim_key(request, uow)  # replays instead, for a POST whose Idempotency-Key is known
        yield uow
        await save_response(request, uow)
    except BaseException as exc:
        await scope.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    else:
        await scope.__aexit__(None, None, None)


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    principal = request.scope.get("user")
    assert isinstance(principal, Principal), "route is not behind authentication"
    return principal


@get("/health", tags=["ops"], summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app(runtime: Runtime, *, debug: bool = False) -> Litestar:
    registry = runtime.registry
    public = [*ALWAYS_PUBLIC, *registry.public_paths]

    async def on_shutdown() -> None:
        await runtime.dispose()

    route_handlers: list[Any] = [health, ready, PrometheusController, swagger_ui_assets()]
    for module in registry.modules:
        route_handlers.extend(module.route_handlers)

    config = AppConfig(
        route_handlers=route_handlers,
        dependencies={
            "uow": Provide(provide_uow),
            "principal": Provide(provide_principal, sync_to_thread=False),
        },
        exception_handlers={**EXCEPTION_HANDLERS, **IDEMPOTENCY_HANDLERS},
        response_class=KeelResponse,
        request_class=JSONRequest,  # JSON bodies: 415, NUL and depth checks
        middleware=[
            DefineMiddleware(RequestsInProgressMiddleware, app_name="keel"),
            NulCharacterMiddleware,
            DefineMiddleware(BearerAuthMiddleware, registry=registry, exclude_prefixes=public),
        ],
        state=State({"runtime": runtime}),
        on_shutdown=[on_shutdown],
        openapi_config=OpenAPIConfig(
            title="Keel",
            version="0.1.0",
            path="/schema",
            render_plugins=[swagger_ui()],
            components=Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}),
            security=[{"bearer": []}],
        ),
        request_max_body_size=runtime.settings.max_body_bytes,
        debug=debug,
    )
    app = Litestar.from_config(config)
    document(app, public)  # the OpenAPI says what the routes really answer
    app.asgi_handler = OptionsAllow(app.asgi_handler, allowed_methods(app))
    make_signatures_strict(app)  # no silent coercion of bodies and parameters
    # Around the whole app, outermost last: metrics see every status sent (401s raised by the
    # auth middleware, 404s of unknown routes), the fast lane answers before routing (it counts
    # its own answers), server spans only while tracing is on, a request id for everything.
    handler: ASGIApp = RequestMetricsMiddleware(app.asgi_handler, app_name="keel")
    if registry.fast_routes:  # see platform_core.http.fast_lane
        handler = FastLane(handler, runtime, registry.fast_routes, registry.resolvers, app_name="keel")
    app.asgi_handler = RequestIdMiddleware(traced(handler, fixed_paths=registry.fast_routes))
    settle_heap()  # the routes and the OpenAPI document live as long as the app
    return app
