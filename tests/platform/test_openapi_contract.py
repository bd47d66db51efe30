"""The served OpenAPI document tells what the server does, for every operation: real success
schemas, every error as problem+json with Keel's `Problem` schema, `Idempotency-Key` exactly
where it is honoured, no security on public routes, `/metrics` as text, request bodies that
refuse unknown fields and carry their constraints; `OPTIONS` agrees with a 405's `Allow`; and the
Swagger UI works from Keel alone."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any, get_args, get_origin

import httpx
import jsonschema
import msgspec
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from openapi_spec_validator import validate

from platform_core.core.errors import PROBLEM_MEDIA_TYPE, problem_response
from platform_core.http.idempotency import HEADER, honours_key

ERROR_STATUSES = {400, 401, 403, 404, 409, 413, 415, 422, 429, 503}
PUBLIC = {"/health", "/ready", "/metrics", "/integration/webhooks/{provider}"}
METHODS = ("get", "put", "post", "delete", "patch")
UNTYPED_OBJECT = {"additionalProperties": {}, "type": "object"}  # what Litestar makes of dict[str, Any]


@pytest.fixture(scope="module")
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method.upper(), item[method]


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_success_with_a_body_documents_its_schema(document: dict[str, Any]) -> None:
    empty = [
        f"{method} {path} {status}"
        for path, method, op in operations(document)
        for status, response in op["responses"].items()
        if status.startswith("2")
        for media in (response.get("content") or {}).values()
        if media.get("schema") in (None, {}, UNTYPED_OBJECT)
    ]
    assert not empty, f"success responses without a schema: {empty}"


def test_every_error_is_problem_json_with_the_problem_schema(document: dict[str, Any]) -> None:
    for path, method, op in operations(document):
        for status, response in op["responses"].items():
            if int(status) >= 400:
                assert int(status) in ERROR_STATUSES, f"{method} {path}: {status}"
                assert response["content"] == {
                    PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                }, f"{method} {path} {status}"


def test_the_problem_schema_names_every_member_the_server_sends(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    sent = problem_response(
        422,
        "x",
        "X",
        "detail",
        errors=[{"field": "a", "source": "body", "message": "m"}],
        instance="/p",
    )
    assert set(sent.content) <= set(problem["properties"])
    assert set(problem["required"]) == {"type", "title", "status", "code"}
    field_error = document["components"]["schemas"]["ProblemFieldError"]
    assert set(sent.content["errors"][0]) <= set(field_error["properties"])
    assert "status_code" not in str(document), "Litestar's {status_code, detail, extra} is never sent"


def statuses(document: dict[str, Any], method: str, path: str) -> set[int]:
    op = document["paths"][path][method.lower()]
    return {int(s) for s in op["responses"] if int(s) >= 400}


def test_error_statuses_follow_the_route(document: dict[str, Any]) -> None:
    # a create with a path, a body and authentication can answer all of them
    assert statuses(document, "POST", "/billing/products/{product_id}/prices") == ERROR_STATUSES
    # a list: query parameters, authentication, no writes
    assert statuses(document, "GET", "/organizations") == {400, 401, 403, 404, 422, 429, 503}
    # a read of one resource
    assert {400, 401, 403, 404, 429, 503} <= statuses(document, "GET", "/organizations/{org_id}")
    assert not {409, 413, 415} & statuses(document, "GET", "/organizations/{org_id}")
    # public: no credential, so no 401/403; readiness answers 503; any request may be malformed
    assert statuses(document, "GET", "/ready") == {400, 503}
    assert statuses(document, "GET", "/health") == {400}
    # behind authentication a guard may hide the caller's own resource (a key is no person)
    assert 404 in statuses(document, "GET", "/identity/me")
    webhook = statuses(document, "POST", "/integration/webhooks/{provider}")
    assert not {401, 403, 429} & webhook
    assert {400, 404, 413, 503} <= webhook  # it reads its JSON body itself, up to 1 MiB
    assert "requestBody" in document["paths"]["/integration/webhooks/{provider}"]["post"]


def test_idempotency_key_is_documented_exactly_where_it_is_honoured(
    document: dict[str, Any], app: Litestar
) -> None:
    honoured: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for method, (handler, _) in route.route_handler_map.items():
                if honours_key(handler) and handler.resolve_include_in_schema():
                    honoured.add((method, route.path_format))
    documented = {
        (method, path)
        for path, method, op in operations(document)
        if any(p["name"] == HEADER and p["in"] == "header" for p in op.get("parameters", []))
    }
    assert documented == honoured
    creates = {(m, p) for p, m, op in operations(document) if m == "POST" and "201" in op["responses"]}
    assert creates <= documented, f"creates without the key: {creates - documented}"
    assert ("PUT", "/entitlements/sets/{key}") in documented


def test_public_routes_carry_no_security_and_the_others_need_a_bearer(document: dict[str, Any]) -> None:
    assert document["security"] == [{"bearer": []}]
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    for path, method, op in operations(document):
        if path in PUBLIC:
            assert op.get("security") == [], f"{method} {path}"
        else:
            assert "security" not in op, f"{method} {path} overrides the bearer requirement"


async def test_metrics_is_documented_and_served_as_text(
    document: dict[str, Any], client: httpx.AsyncClient
) -> None:
    assert list(document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")


def test_request_bodies_refuse_unknown_fields_and_carry_their_constraints(
    document: dict[str, Any], app: Litestar
) -> None:
    for path, method, op in operations(document):
        if "requestBody" not in op:
            continue
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        if schema.get("type") == "array":  # the Keycloak export: its users carry more fields on purpose
            continue
        for branch in schema.get("oneOf", [schema]):
            if "$ref" in branch:
                body = resolve(document, branch)
                assert body.get("additionalProperties") is False, f"{method} {path}"
    checked = 0
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler, _ in route.route_handler_map.values():
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is None:
                continue
            for struct in _struct_types(data.annotation):
                checked += _assert_constraints_documented(document, struct)
    assert checked > 50


_CONSTRAINTS = {
    "min_length": "minLength",
    "max_length": "maxLength",
    "pattern": "pattern",
    "ge": "minimum",
    "le": "maximum",
    "gt": "exclusiveMinimum",
    "lt": "exclusiveMaximum",
}


def _assert_constraints_documented(document: dict[str, Any], struct: type[msgspec.Struct]) -> int:
    """Each msgspec constraint on `struct`'s fields appears in its component's property."""
    component = document["components"]["schemas"].get(struct.__name__)
    if component is None:
        return 0
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    checked = 0
    for field in info.fields:
        prop = component["properties"][field.encode_name]
        for constraint in _field_constraints(field.type):
            assert constraint in str(prop), f"{struct.__name__}.{field.name}: {constraint} not in {prop}"
            checked += 1
    return checked


def _field_constraints(kind: msgspec.inspect.Type) -> set[str]:
    """The JSON Schema keywords msgspec's constraints on `kind` become (items' included)."""
    if isinstance(kind, msgspec.inspect.UnionType):
        return set().union(*(_field_constraints(t) for t in kind.types))
    if isinstance(kind, msgspec.inspect.StructType):
        return set()
    names = dict(_CONSTRAINTS)
    found: set[str] = set()
    if isinstance(kind, msgspec.inspect.ListType | msgspec.inspect.SetType | msgspec.inspect.FrozenSetType):
        names.update(min_length="minItems", max_length="maxItems")
        found |= _field_constraints(kind.item_type)
    elif isinstance(kind, msgspec.inspect.DictType):
        names.update(min_length="minProperties", max_length="maxProperties")
    return found | {name for attr, name in names.items() if getattr(kind, attr, None) is not None}


def _struct_types(annotation: Any) -> Iterator[type[msgspec.Struct]]:
    """Every Struct type reachable from `annotation` (a request body type)."""
    seen: set[type[msgspec.Struct]] = set()
    pending = [annotation]
    while pending:
        current = pending.pop()
        if isinstance(current, type) and issubclass(current, msgspec.Struct):
            if current not in seen:
                seen.add(current)
                yield current
                pending.extend(field.type for field in msgspec.structs.fields(current))
        elif get_origin(current) is not None:
            pending.extend(get_args(current))


def example_path(path: str) -> str:
    path = re.sub(r"\{[^}:]+:uuid\}", str(uuid.uuid4()), path)
    path = re.sub(r"\{[^}:]+:int\}", "1", path)
    return re.sub(r"\{[^}]+\}", "x", path)


async def test_options_lists_the_methods_a_405_allows(
    app: Litestar, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    paths = {
        route.path for route in app.routes if isinstance(route, HTTPRoute) and "{" not in route.path[-1:]
    }
    compared = 0
    for path in sorted(paths):
        if path.startswith("/schema"):
            continue
        url = example_path(path)
        options = await client.options(url, headers=admin_headers)
        assert options.status_code == 204, f"OPTIONS {path}: {options.status_code}"
        allowed = {m.strip() for m in options.headers["allow"].split(",")}
        refused = next(m for m in ("PATCH", "PUT", "DELETE", "POST", "GET") if m not in allowed)
        r = await client.request(refused, url, headers=admin_headers)
        assert r.status_code == 405, f"{refused} {path}: {r.status_code}"
        assert {m.strip() for m in r.headers["allow"].split(",")} == allowed, path
        compared += 1
    assert compared > 50


async def test_the_swagger_ui_and_all_its_assets_are_served_by_keel(client: httpx.AsyncClient) -> None:
    for page in ("/schema", "/schema/swagger"):
        r = await client.get(page)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", r.text)
        assert assets, r.text[:500]
        for asset in assets:
            assert asset.startswith("/schema/"), f"{page} loads {asset} from elsewhere"
            served = await client.get(asset)
            assert served.status_code == 200, asset
            assert len(served.content) > 100, asset
        assert "SwaggerUIBundle" in r.text


def _body_validator(document: dict[str, Any], component: str) -> jsonschema.Draft202012Validator:
    root = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
    return jsonschema.Draft202012Validator(root)


async def _product(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    key = f"contract.{uuid.uuid4().hex[:8]}"
    resource = {"key": key, "name": key, "kind": "numeric", "aggregation": "SUM"}
    assert (
        await client.post("/entitlements/resource-keys", json=resource, headers=headers)
    ).status_code == 201
    rules = [{"resource_key": key, "rule_type": "limit", "amount": 10}]
    es = await client.post(
        "/entitlements/sets", json={"key": key, "name": key, "rules": rules}, headers=headers
    )
    product = {"key": f"p-{uuid.uuid4().hex[:8]}", "name": "P", "entitlement_set_key": es.json()["key"]}
    r = await client.post("/billing/products", json=product, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


COUPONS = [
    {"percent_off_bp": 500},
    {"amount_off": 100, "currency": "EUR"},
    {},
    {"amount_off": 100},
    {"percent_off_bp": 500, "amount_off": 100, "currency": "EUR"},
    {"percent_off_bp": 500, "amount_off": None},
]
PRICES = [
    {"unit_amount": 100, "interval": "month"},
    {"type": "one_time", "unit_amount": 100},
    {"unit_amount": 100},
    {"interval": "month"},
    {"type": "one_time", "unit_amount": 100, "interval": "month"},
    {"billing_scheme": "tiered", "interval": "month", "tiers_mode": "volume"},
    {"billing_scheme": "tiered", "interval": "month", "tiers_mode": "volume", "tiers": [{"up_to": None}]},
    {"usage_type": "metered", "unit_amount": 1, "interval": "month"},
    {"usage_type": "metered", "unit_amount": 1, "interval": "month", "metered_resource_key": "k"},
    {"unit_amount": 1, "interval": "month", "metered_resource_key": "k"},
]


async def test_either_or_fields_in_the_schema_agree_with_the_server(
    document: dict[str, Any], client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    coupon_schema = _body_validator(document, "CreateCoupon")
    for terms in COUPONS:
        body = {"key": f"c-{uuid.uuid4().hex[:8]}", "name": "C", **terms}
        r = await client.post("/billing/coupons", json=body, headers=admin_headers)
        assert r.status_code == (201 if coupon_schema.is_valid(body) else 422), (terms, r.text)
    price_schema = _body_validator(document, "CreatePrice")
    product = await _product(client, admin_headers)
    for terms in PRICES:
        body = {"currency": "EUR", **terms}
        r = await client.post(f"/billing/products/{product}/prices", json=body, headers=admin_headers)
        assert r.status_code == (201 if price_schema.is_valid(body) else 422), (terms, r.text)
    policy = _body_validator(document, "SetRetentionPolicy")
    assert policy.is_valid({"org_id": str(uuid.uuid4()), "retention_days": 30})
    assert policy.is_valid({"tier": "default", "retention_days": 30})
    assert not policy.is_valid({"retention_days": 30})
    assert not policy.is_valid({"org_id": str(uuid.uuid4()), "tier": "default", "retention_days": 30})
