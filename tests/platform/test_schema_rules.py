"""Request schemas carry the rules the server enforces (issue 9 point 7): for each rule, the
served document states it and the server agrees with it both ways — a request the document
refuses is refused, and one it allows is accepted."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jsonschema
import pytest

from tests.entitlements.conftest import World, unique


@pytest.fixture(scope="module")
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture
def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return World(client, admin_headers)


def validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    root = {**schema, "components": document["components"]}
    return jsonschema.Draft202012Validator(
        root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def body_validator(document: dict[str, Any], method: str, path: str) -> jsonschema.Draft202012Validator:
    op = document["paths"][path][method]
    return validator(document, op["requestBody"]["content"]["application/json"]["schema"])


async def agree(
    schema: jsonschema.Draft202012Validator, response: httpx.Response, body: Any, accepted: int
) -> None:
    """The server accepts exactly what the schema allows (and refuses the rest with a 4xx)."""
    if schema.is_valid(body):
        assert response.status_code == accepted, (body, response.text)
    else:
        assert response.status_code in (400, 422), (body, response.status_code, response.text)


def test_every_list_limit_is_documented_with_the_bounds_the_server_enforces(document: dict[str, Any]) -> None:
    limits = [
        (path, parameter["schema"])
        for path, item in document["paths"].items()
        for op in item.values()
        if isinstance(op, dict)
        for parameter in op.get("parameters", [])
        if parameter["name"] == "limit" and parameter["in"] == "query"
    ]
    assert len(limits) >= 15
    unbounded = [
        path for path, schema in limits if (schema.get("minimum"), schema.get("maximum")) != (1, 500)
    ]
    assert not unbounded, unbounded


@pytest.mark.parametrize("path", ["/identity/me/tokens", "/entitlements/resource-keys", "/audit/archives"])
async def test_the_server_refuses_a_limit_outside_the_documented_bounds(
    client: httpx.AsyncClient, admin_headers: dict[str, str], path: str
) -> None:
    for limit, status in (("0", 400), ("501", 400), ("1", 200), ("500", 200)):
        r = await client.get(path, params={"limit": limit}, headers=admin_headers)
        assert r.status_code == status, (path, limit, r.text)
        if status == 400:
            assert r.json()["errors"][0]["field"] == "limit"


async def test_a_grant_names_its_set_by_exactly_one_of_id_or_key(
    document: dict[str, Any], world: World
) -> None:
    schema = body_validator(document, "post", "/entitlements/orgs/{org_id}/grants")
    org = await world.org()
    pool = await world.pool(org)
    es = await world.set([])
    base = {"pool_id": pool, "reason": "r", "ends_at": "2100-01-01T00:00:00Z"}
    names: list[dict[str, Any]] = [
        {"entitlement_set_id": es["id"]},
        {"set_key": es["key"]},
        {"entitlement_set_id": es["id"], "set_key": es["key"]},
        {},
        {"entitlement_set_id": None, "set_key": es["key"]},
        {"entitlement_set_id": None, "set_key": None},
    ]
    for name in names:
        body = {**base, **name}
        r = await world.client.post(f"/entitlements/orgs/{org}/grants", json=body, headers=world.headers)
        await agree(schema, r, body, 201)
    assert [schema.is_valid({**base, **name}) for name in names] == [True, True, False, False, True, False]


COUPON_DURATIONS: list[tuple[dict[str, Any], bool]] = [
    ({}, True),
    ({"duration": "once"}, True),
    ({"duration": "forever"}, True),
    ({"duration": "repeating", "duration_in_periods": 3}, True),
    ({"duration": "repeating"}, False),
    ({"duration": "repeating", "duration_in_periods": None}, False),
    ({"duration": "once", "duration_in_periods": 1}, False),
    ({"duration_in_periods": 2}, False),  # the default duration is "once"
    ({"duration": "forever", "duration_in_periods": None}, True),
]


async def test_coupon_periods_go_with_and_only_with_a_repeating_duration(
    document: dict[str, Any], client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    schema = body_validator(document, "post", "/billing/coupons")
    for terms, valid in COUPON_DURATIONS:
        body = {"key": f"c-{uuid.uuid4().hex[:8]}", "name": "C", "percent_off_bp": 500, **terms}
        assert schema.is_valid(body) is valid, terms
        r = await client.post("/billing/coupons", json=body, headers=admin_headers)
        await agree(schema, r, body, 201)


RESOURCE_KEYS: list[tuple[dict[str, Any], bool]] = [
    ({"kind": "config", "default_value": {"plan": "basic"}}, True),
    ({"kind": "config", "default_value": 0}, True),
    ({"kind": "config", "default_value": None}, False),
    ({"kind": "config"}, False),
    ({"kind": "boolean"}, True),
    ({"kind": "boolean", "default_value": True}, False),
    ({"kind": "numeric", "aggregation": "SUM"}, True),
    ({"kind": "numeric"}, False),
    ({"kind": "numeric", "aggregation": "SUM", "default_value": 1}, False),
    ({"kind": "boolean", "aggregation": "SUM"}, False),
]


async def test_a_resource_key_takes_what_its_kind_needs(
    document: dict[str, Any], client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    schema = body_validator(document, "post", "/entitlements/resource-keys")
    for terms, valid in RESOURCE_KEYS:
        key = f"rk.{uuid.uuid4().hex[:10]}"
        body = {"key": key, "name": key, **terms}
        assert schema.is_valid(body) is valid, terms
        r = await client.post("/entitlements/resource-keys", json=body, headers=admin_headers)
        await agree(schema, r, body, 201)


WEBHOOK_URLS: list[tuple[str, bool]] = [
    ("https://example.com/hooks/keel", True),
    ("http://receiver.example:8080/in?x=1", True),
    ("HTTPS://example.com", True),
    ("00000000", False),
    ("ftp://example.com/in", False),
    ("https://user:secret@example.com/in", False),
    ("https://example.com:0/in", False),
    ("https://example.com:70000/in", False),
    ("https://example.com/in#frag", False),
    ("https:///nohost", False),
    ("https://" + "a" * 2050, False),
    ("https://[2001:db8::1]:8443/in", True),
    ("https://[E5c2A3f]:62803?", False),  # no IPv6 address
    ("https://receiver\x1c.example/in", True),  # whitespace to Python's `\s`, not to ECMA-262's
]


async def test_a_webhook_endpoint_url_is_an_http_url(document: dict[str, Any], world: World) -> None:
    path = "/integration/orgs/{org_id}/webhook-endpoints"
    schema = body_validator(document, "post", path)
    org = await world.org()
    for url, valid in WEBHOOK_URLS:
        body = {"url": url, "event_types": ["*"]}
        assert schema.is_valid(body) is valid, url
        r = await world.client.post(path.format(org_id=org), json=body, headers=world.headers)
        await agree(schema, r, body, 201)


def _users(n: int) -> list[dict[str, Any]]:
    return [{"id": str(uuid.uuid4()), "username": unique("u")} for _ in range(n)]


async def test_a_keycloak_batch_holds_1_to_1000_users(
    document: dict[str, Any], client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    schema = body_validator(document, "post", "/identity/sync/keycloak")
    op = document["paths"]["/identity/sync/keycloak"]["post"]
    documented = op["requestBody"]["content"]["application/json"]["schema"]
    assert (documented["minItems"], documented["maxItems"]) == (1, 1000)
    for body in ([], _users(1001), _users(1)):
        r = await client.post("/identity/sync/keycloak", json=body, headers=admin_headers)
        await agree(schema, r, body, 200)
        if not body:
            assert r.json()["errors"][0]["field"] == "data"


CYCLES: list[tuple[dict[str, Any], bool]] = [
    ({"anchor": "2026-01-01T00:00:00Z", "interval": "month"}, True),
    ({"anchor": "2026-01-01T00:00:00+02:00", "interval": "year", "interval_count": 36}, True),
    ({"anchor": "", "interval": "month"}, False),
    ({"anchor": "2026-01-01T00:00:00", "interval": "month"}, False),  # no offset
    ({"anchor": "2026-01-01T00:00:00Z", "interval": "month", "interval_count": 0}, False),
    ({"anchor": "2026-01-01T00:00:00Z", "interval": "month", "interval_count": 37}, False),
]


async def test_a_billing_cycle_anchor_is_an_aware_date_time(document: dict[str, Any], world: World) -> None:
    path = "/entitlements/orgs/{org_id}/grants"  # a grant's billing cycle (ADR 0020)
    schema = body_validator(document, "post", path)
    org = await world.org()
    pool = await world.pool(org)
    es = await world.set([])
    for cycle, valid in CYCLES:
        body = {
            "pool_id": pool,
            "entitlement_set_id": es["id"],
            "reason": "billing cycle",
            "ends_at": "2999-01-01T00:00:00Z",
            "billing_cycle": cycle,
        }
        assert schema.is_valid(body) is valid, cycle
        r = await world.client.post(path.format(org_id=org), json=body, headers=world.headers)
        await agree(schema, r, body, 201)


DECIMAL_STRINGS = [
    "0", "1", "12.5", "0.000001", "999999999999999.99", "-1", "-0.5", "1000000000000000",
    "", " 1", "1 ", "1\n", "+1", "1_000", "007", ".5", "5.", "1e3", "1E+3", "NaN", "nan", "Infinity",
    "-Infinity", "sNaN", "\u0661", "0x1", "1.2.3",
]  # fmt: skip
DECIMAL_NUMBERS: list[Any] = [
    0,
    1,
    2.5,
    0.1000000000000000000001,
    -1,
    10**15,
    1e3,
    123456789012345678901234567890,
]


def _decimal_fields(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each request-body property documented as a decimal, by `Component.property`."""
    found: dict[str, dict[str, Any]] = {}
    for name, component in document["components"]["schemas"].items():
        for prop, schema in (component.get("properties") or {}).items():
            branches = [schema, *schema.get("anyOf", [])]
            for branch in branches:
                for inner in [branch, *branch.get("anyOf", [])]:
                    if inner.get("format") == "decimal":
                        found.setdefault(f"{name}.{prop}", branch)
    return found


def test_every_request_decimal_states_its_pattern_and_bounds(document: dict[str, Any]) -> None:
    found = _decimal_fields(document)
    expected = {
        "CheckItem.quantity", "UsageEventIn.quantity", "SetOndemand.cap", "RuleSpec.amount",
        "CreateGrant.quantity", "CreateProvision.quantity",
    }  # fmt: skip
    assert expected <= set(found), set(found)
    fields = {name: found[name] for name in expected}
    for name, schema in fields.items():
        string, number = schema["anyOf"]
        assert string["type"] == "string", name
        assert string["pattern"].startswith("^"), name
        assert number["type"] == "number", name
    assert fields["CreateGrant.quantity"]["anyOf"][1] == {
        "type": "number",
        "exclusiveMinimum": 0,
        "exclusiveMaximum": 10**9,
    }
    check = next(
        p for p in document["paths"]["/entitlements/check"]["get"]["parameters"] if p["name"] == "quantity"
    )
    assert "pattern" in str(check["schema"])


def test_a_decimal_with_few_places_is_a_string_or_a_whole_number(document: dict[str, Any]) -> None:
    """A tax percentage has at most four decimals: the pattern says so for strings, and the
    number form takes integers only (a float's text may not be what the client meant)."""
    string, number = _decimal_fields(document)["CreateTaxRate.percentage"]["anyOf"]
    assert number == {"type": "integer", "minimum": 0, "exclusiveMaximum": 100}
    for text, valid in (("19", True), ("19.1234", True), ("19.12345", False), ("100", False), ("07", False)):
        assert (jsonschema.Draft202012Validator(string).is_valid(text)) is valid, text


def test_no_request_body_reads_a_plain_decimal(app: Any) -> None:
    """Every decimal a body holds is a JSONDecimal (its pattern and bounds documented and
    decoded), not msgspec's Decimal, which takes "NaN", " 1" or "1_0"."""
    from decimal import Decimal

    import msgspec
    from litestar.routes import HTTPRoute

    from platform_core.core.decimals import JSONDecimal

    def plain(kind: Any, seen: set[Any]) -> list[str]:
        if kind is Decimal:
            return ["Decimal"]
        if isinstance(kind, type) and issubclass(kind, JSONDecimal):
            return []
        if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
            if kind in seen:
                return []
            seen.add(kind)
            return [f"{kind.__name__}.{f.name}" for f in msgspec.structs.fields(kind) if plain(f.type, seen)]
        from typing import get_args

        return [found for arg in get_args(kind) for found in plain(arg, seen)]

    offenders = [
        (route.path, found)
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        if (data := handler.parsed_fn_signature.parameters.get("data")) is not None
        for found in plain(data.raw, set())
    ]
    assert not offenders, offenders


async def test_decimal_strings_and_numbers_are_read_as_the_document_says(
    document: dict[str, Any], world: World
) -> None:
    key = await world.key()
    _, _, ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 5}])
    schema = body_validator(document, "post", "/entitlements/check")
    for quantity in [*DECIMAL_STRINGS, *DECIMAL_NUMBERS]:
        body = {"checks": [{"workspace": ws, "key": key, "quantity": quantity}]}
        r = await world.client.post("/entitlements/check", json=body, headers=world.headers)
        await agree(schema, r, body, 200)
        if r.status_code == 400:
            assert r.json()["errors"][0]["field"] == "checks[0].quantity", (quantity, r.text)
    op = document["paths"]["/entitlements/check"]["get"]
    parameter = next(p for p in op["parameters"] if p["name"] == "quantity")
    query = validator(document, parameter["schema"])
    for quantity in DECIMAL_STRINGS:
        if not quantity:  # `quantity=` is no quantity for Litestar, as for any optional parameter
            continue
        params = {"workspace": ws, "key": key, "quantity": quantity}
        r = await world.client.get("/entitlements/check", params=params, headers=world.headers)
        assert r.status_code == (200 if query.is_valid(quantity) else 400), (quantity, r.text)


async def test_usage_quantities_refuse_what_the_pattern_excludes_and_keep_numbers_exact(
    world: World,
) -> None:
    key = await world.key()
    org, _, ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 10**14}])
    for bad in ("NaN", "Infinity", " 1", "1_0", ""):
        r = await world.usage(
            org, [{"event_id": uuid.uuid4().hex, "workspace": ws, "resource_key": key, "quantity": bad}]
        )
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["errors"][0]["field"] == "events[0].quantity"
    event_id = uuid.uuid4().hex
    event = f'"event_id":"{event_id}","workspace":"{ws}","resource_key":"{key}"'
    body = '{"events":[{' + event + ',"quantity":123456789012.123456,"properties":{"ratio":0.5}}]}'
    r = await world.client.post(
        "/entitlements/usage-events",
        params={"org_id": org},
        content=body,
        headers={**world.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1, r.text
    trail = await world.client.get(f"/entitlements/orgs/{org}/usage-events", headers=world.headers)
    (stored,) = [e for e in trail.json()["items"] if e["event_id"] == event_id]
    assert stored["quantity"] == "123456789012.123456"  # a float would say 123456789012.12346
    assert stored["properties"] == {"ratio": 0.5}  # a number outside a decimal field stays a number


async def test_a_whole_number_is_an_integer_as_json_schema_says(
    document: dict[str, Any], client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """`2.0` is the integer 2 for JSON Schema, so where the document says `integer` the server
    reads it as 2; `2.5` is still refused, and nothing is rounded."""
    schema = body_validator(document, "post", "/billing/coupons")
    for percent, status in ((500.0, 201), (5e2, 201), (500.5, 400), (1e4 + 1, 400)):
        body = {
            "key": f"c-{uuid.uuid4().hex[:8]}",
            "name": "C",
            "percent_off_bp": percent,
            "duration": "repeating",
            "duration_in_periods": 3.0,
        }
        assert schema.is_valid(body) is (status == 201), percent
        r = await client.post("/billing/coupons", json=body, headers=admin_headers)
        assert r.status_code == status, (percent, r.text)
        if status == 201:
            assert (r.json()["percent_off_bp"], r.json()["duration_in_periods"]) == (500, 3)
        else:
            assert r.json()["errors"][0]["field"] == "percent_off_bp"


async def test_a_product_names_its_set_by_key_or_by_id_not_both(
    document: dict[str, Any], world: World
) -> None:
    schema = body_validator(document, "post", "/billing/products")
    es = await world.set([])
    for names in (
        {"entitlement_set_key": es["key"]},
        {"entitlement_set_id": es["id"]},
        {},
        {"entitlement_set_key": es["key"], "entitlement_set_id": es["id"]},
        {"entitlement_set_key": "", "entitlement_set_id": es["id"]},
        {"entitlement_set_key": None, "entitlement_set_id": es["id"]},
    ):
        body = {"key": f"p-{uuid.uuid4().hex[:8]}", "name": "P", **names}
        r = await world.client.post("/billing/products", json=body, headers=world.headers)
        await agree(schema, r, body, 201)


async def test_an_email_pattern_means_the_same_to_python_and_to_ecma_262(
    document: dict[str, Any], client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    schema = body_validator(document, "post", "/identity/persons")
    for email, valid in (("a\x1cb@example.com", True), ("a b@example.com", False), ("ab@example.com", True)):
        body = {
            "kind": "individual",
            "display_name": "A",
            "email": email.replace("ab@", f"{uuid.uuid4().hex}@"),
        }
        assert schema.is_valid(body) is valid, email
        r = await client.post("/identity/persons", json=body, headers=admin_headers)
        await agree(schema, r, body, 201)
