"""The OpenAPI document tells what the server does: one pass over the generated document, made
once in the app factory, derives from each route's facts what Litestar cannot know.

- Every error is `application/problem+json` with the `Problem` schema (core.errors sends
  nothing else), and each operation lists the statuses it can answer: 400 for any request,
  413/415/422 for a body, 404 where it names a resource or sits behind authentication (guards
  hide what the caller may not see), 401/403/429 behind authentication, 409/422 for a write,
  503 for anything that needs the database.
- `Idempotency-Key` is a parameter wherever it is honoured (platform_core.http.idempotency).
- Public routes carry no security requirement; `/metrics` is Prometheus text.
- Request bodies are described by msgspec's JSON Schema, so they state what the decoder
  enforces (`additionalProperties: false`, ranges, patterns, lengths, decimal strings: a
  `JSONDecimal` field's own pattern and bounds, see `platform_core.core.decimals`).

The Swagger UI is served with its assets from the swagger-ui-bundle-v2 package, so the page
works offline; Scalar is not offered (it has no packaged distribution to serve)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast, get_args

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
)
from litestar.router import Router
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from platform_core.core.decimals import JSONDecimal
from platform_core.core.errors import PROBLEM_MEDIA_TYPE
from platform_core.http.idempotency import HEADER, MAX_KEY_LENGTH, REPLAYED_HEADER, honours_key

DOCS_PATH = "/schema"
ASSETS_PATH = f"{DOCS_PATH}/assets"
# routes that touch neither the database nor a credential: never a 503
DEPENDENCY_FREE = ("/health", "/metrics")

JSON = "application/json"
# a request Struct's class attribute: JSON Schema keywords over its fields (oneOf, if/then)
SCHEMA_RULES = "__json_schema_rules__"
RAW_JSON_BODY = "openapi_raw_json_body"  # a route `opt` key, see `raw_json_body`
PROBLEM = "Problem"
PROBLEM_FIELD_ERROR = "ProblemFieldError"

_ERROR_DESCRIPTIONS = {
    400: "The request is malformed: a parameter, header or body field is invalid (see `errors`)",
    401: "No valid credential (`WWW-Authenticate: Bearer`)",
    403: "The credential may not do this",
    404: "A resource the request names does not exist, or is not visible to the caller",
    409: "The request conflicts with the resource's current state, or should be retried",
    413: "The body is larger than the server accepts",
    415: "The body is not JSON (`Content-Type` must be `application/json`)",
    422: "The request is well-formed but breaks a rule (or reuses an `Idempotency-Key` for another request)",
    429: "Too many requests (`Retry-After` says when to try again)",
    503: "A dependency is unavailable; retry after `Retry-After` seconds",
}
_RETRY_AFTER = {
    "Retry-After": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.INTEGER, minimum=0), description="Seconds to wait before retrying"
    )
}
_ERROR_HEADERS: dict[int, dict[str, OpenAPIHeader | Reference]] = {
    401: {
        "WWW-Authenticate": OpenAPIHeader(
            schema=Schema(type=OpenAPIType.STRING), description="The scheme to authenticate with (RFC 6750)"
        )
    },
    429: dict(_RETRY_AFTER),
    503: dict(_RETRY_AFTER),
}


def swagger_ui() -> SwaggerRenderPlugin:
    """Swagger UI at /schema (and /schema/swagger) with every asset served by Keel itself."""
    return SwaggerRenderPlugin(
        path="/swagger",
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
    )


def swagger_ui_assets() -> Router:
    """The Swagger UI distribution's files under /schema/assets."""
    return create_static_files_router(
        path=ASSETS_PATH, directories=[swagger_ui_path], name="swagger-ui-assets", include_in_schema=False
    )


def _problem_schemas() -> dict[str, Schema]:
    string = Schema(type=OpenAPIType.STRING)
    field_error = Schema(
        type=OpenAPIType.OBJECT,
        description="One invalid input: where it is and what is wrong with it",
        properties={
            "field": Schema(
                one_of=[string, Schema(type=OpenAPIType.INTEGER), Schema(type=OpenAPIType.NULL)],
                description="The field's dotted path (`items[0].quantity`), or the parameter's name",
            ),
            "source": Schema(
                one_of=[string, Schema(type=OpenAPIType.NULL)], description="body, query, path or header"
            ),
            "message": Schema(one_of=[string, Schema(type=OpenAPIType.NULL)]),
        },
    )
    problem = Schema(
        type=OpenAPIType.OBJECT,
        description="An RFC 9457 problem document; `code` is stable and meant for programs",
        required=["type", "title", "status", "code"],
        properties={
            "type": Schema(type=OpenAPIType.STRING, description="A URI naming the problem type"),
            "title": string,
            "status": Schema(type=OpenAPIType.INTEGER, minimum=400, maximum=599),
            "code": Schema(type=OpenAPIType.STRING, description="e.g. `invalid_request`, `not_found`"),
            "detail": string,
            "instance": Schema(type=OpenAPIType.STRING, description="The request path"),
            "errors": Schema(
                type=OpenAPIType.ARRAY,
                items=Reference(f"#/components/schemas/{PROBLEM_FIELD_ERROR}"),
                description="Each invalid input, on validation errors",
            ),
        },
    )
    return {PROBLEM: problem, PROBLEM_FIELD_ERROR: field_error}


def _problem_response(status: int) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=_ERROR_DESCRIPTIONS.get(status, "An error"),
        headers=_ERROR_HEADERS.get(status),
        content={PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=Reference(f"#/components/schemas/{PROBLEM}"))},
    )


@dataclass(frozen=True)
class _RouteFacts:
    path: str
    method: str
    handler: HTTPRouteHandler
    operation: Operation
    public: bool

    @property
    def has_body(self) -> bool:
        return self.operation.request_body is not None

    def parameters_in(self, location: str) -> list[Parameter]:
        return [
            p for p in self.operation.parameters or [] if isinstance(p, Parameter) and p.param_in == location
        ]

    def error_statuses(self) -> set[int]:
        statuses = {400}  # any request: a NUL in the query or path is refused before routing
        if self.path not in DEPENDENCY_FREE:
            statuses.add(503)
        if not self.public:  # guards answer 404 for what the credential may not see
            statuses |= {401, 403, 404, 429}
        if self.has_body or self.operation.parameters:  # names a resource; a value the database refuses
            statuses |= {404, 422}
        if self.has_body:
            statuses |= {413, 415, 422}
        if self.method not in ("GET", "HEAD"):
            statuses |= {409, 422}
        if honours_key(self.handler):
            statuses |= {409, 422}
        return statuses


def _operations(app: Litestar, openapi: OpenAPI, public_prefixes: Sequence[str]) -> Iterator[_RouteFacts]:
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        path_item = (openapi.paths or {}).get(route.path_format or "/")
        if path_item is None:
            continue
        for method, (handler, _) in route.route_handler_map.items():
            operation = getattr(path_item, method.lower(), None)
            if isinstance(operation, Operation) and handler.resolve_include_in_schema():
                public = any(route.path_format.startswith(prefix) for prefix in public_prefixes)
                yield _RouteFacts(route.path_format, method, handler, operation, public)


def _idempotency_key_parameter() -> Parameter:
    return Parameter(
        name=HEADER,
        param_in="header",
        required=False,
        schema=Schema(type=OpenAPIType.STRING, min_length=1, max_length=MAX_KEY_LENGTH),
        description=(
            "Makes a retry safe: the same key with the same request replays the first response "
            f"(with `{REPLAYED_HEADER}: true`) for 24 hours; with another request it is a 422."
        ),
    )


def raw_json_body(description: str) -> dict[str, Any]:
    """The `opt` of a route that reads its JSON body itself (to verify a signature over the
    bytes): the document still shows the body it takes."""
    return {RAW_JSON_BODY: description}


def _document_operation(facts: _RouteFacts) -> None:
    op = facts.operation
    if (raw := facts.handler.opt.get(RAW_JSON_BODY)) and op.request_body is None:
        op.request_body = RequestBody(
            content={JSON: OpenAPIMediaType(schema=Schema(type=OpenAPIType.OBJECT, description=raw))},
            required=True,
        )
    responses = dict(op.responses or {})
    for status in list(responses):
        if int(status) >= 400:  # Litestar's own `{status_code, detail, extra}`, never sent
            del responses[status]
    for error in sorted(facts.error_statuses()):
        responses[str(error)] = _problem_response(error)
    if honours_key(facts.handler):
        op.parameters = [*(op.parameters or []), _idempotency_key_parameter()]
        for status, response in responses.items():
            if int(status) < 300 and isinstance(response, OpenAPIResponse):
                response.headers = {
                    **(response.headers or {}),
                    REPLAYED_HEADER: OpenAPIHeader(
                        schema=Schema(type=OpenAPIType.STRING, const="true"),
                        description="Present on a replay of a stored response",
                    ),
                }
    if facts.public:
        op.security = []
    if facts.path == "/metrics":
        responses["200"] = OpenAPIResponse(
            description="Prometheus metrics in the text exposition format",
            content={"text/plain": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))},
        )
    op.responses = responses


def _struct_types(annotations: Iterable[Any]) -> Iterator[type[msgspec.Struct]]:
    """Every Struct type reachable from `annotations`."""
    seen: set[type[msgspec.Struct]] = set()
    pending = list(annotations)
    while pending:
        current = pending.pop()
        if isinstance(current, type) and issubclass(current, msgspec.Struct):
            if current not in seen:
                seen.add(current)
                yield current
                pending.extend(field.type for field in msgspec.structs.fields(current))
        else:
            pending.extend(get_args(current))


def _request_bodies_from_msgspec(facts: list[_RouteFacts], openapi: OpenAPI) -> None:
    """Describe request bodies with msgspec's own JSON Schema, made by the library that decodes
    them: it states what the decoder enforces (unknown fields refused, constraints on list items,
    `minimum: 0`, decimals as strings, encoded field names), where Litestar's drops some. A
    Struct states the rules across its fields (either-or fields) in `__json_schema_rules__`."""
    bodies: list[tuple[OpenAPIMediaType, Any]] = []
    for route in facts:
        data = route.handler.parsed_fn_signature.parameters.get("data")
        body = route.operation.request_body
        if data is None or not isinstance(body, RequestBody) or JSON not in body.content:
            continue
        bodies.append((body.content[JSON], data.raw))  # with constraints on the body type itself
    if not bodies:
        return
    schemas, components = msgspec.json.schema_components(
        [annotation for _, annotation in bodies],
        schema_hook=_custom_schema,
        ref_template="#/components/schemas/{name}",
    )
    for struct in _struct_types(annotation for _, annotation in bodies):
        rules = getattr(struct, SCHEMA_RULES, None)
        if rules and struct.__name__ in components:
            components[struct.__name__] = {**components[struct.__name__], **rules}
    schemas, components = _decimals_as_decoded(schemas), _decimals_as_decoded(components)
    # plain JSON Schema dicts: Litestar renders dicts as they are
    for (media, _), schema in zip(bodies, schemas, strict=True):
        media.schema = cast(Schema, schema)
    openapi.components.schemas = {**(openapi.components.schemas or {}), **cast(dict[str, Schema], components)}


def _custom_schema(kind: type) -> dict[str, Any]:
    if issubclass(kind, JSONDecimal):
        return kind.json_schema()
    raise NotImplementedError(kind)


_DECIMAL = {"type": "string", "format": "decimal"}


def _decimals_as_decoded(schema: Any) -> Any:
    """msgspec states a Decimal as a string, and decodes it from a JSON string or, exactly, from
    a JSON number: say both, so a client sending `"quantity": 1` follows the document."""
    if isinstance(schema, dict):
        if {k: schema.get(k) for k in _DECIMAL} == _DECIMAL and "pattern" not in schema:
            rest = {k: v for k, v in schema.items() if k not in ("type", "format")}
            return {"anyOf": [dict(_DECIMAL), {"type": "number"}], **rest}
        return {key: _decimals_as_decoded(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_decimals_as_decoded(item) for item in schema]
    return schema


def document(app: Litestar, public_prefixes: Sequence[str]) -> None:
    """Complete `app`'s OpenAPI document in place (it is built here, once, and then cached)."""
    openapi = app.openapi_schema
    facts = list(_operations(app, openapi, public_prefixes))
    for route in facts:
        _document_operation(route)
    _request_bodies_from_msgspec(facts, openapi)
    openapi.components.schemas = {**(openapi.components.schemas or {}), **_problem_schemas()}
