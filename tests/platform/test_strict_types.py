"""No silent coercion: a JSON body must carry the documented types (`0` is not `false`, nor a
time; `"5"` is not an integer; a number is not a string), a body must be JSON, and query
parameters parse from text only as what they say (`true`/`false`, an integer, an RFC 3339
time, never a number as a time). Each refusal names the field, and nothing is written."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import text

from platform_core.runtime.runtime import Runtime
from tests.support.problems import assert_names_field, assert_problem

PERSONS = "/identity/persons"
TOKENS = "/identity/me/tokens"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def count(runtime: Runtime, sql: str, **params: Any) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


@pytest.fixture(scope="module")
async def org(client: httpx.AsyncClient, admin_token: str) -> str:
    headers = {"Authorization": f"Bearer {admin_token}"}
    r = await client.post("/organizations", json={"slug": unique("org"), "name": "Org"}, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_zero_is_not_false(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    r = await client.post("/billing/products", json={"key": unique("p"), "name": "P"}, headers=admin_headers)
    assert r.status_code == 201, r.text
    product = r.json()
    assert product["active"] is True
    for value in (0, "false", None):
        r = await client.patch(
            f"/billing/products/{product['id']}", json={"active": value}, headers=admin_headers
        )
        assert_names_field(r, 400, "active", "body")
    listed: list[dict[str, Any]] = []
    cursor = ""
    while cursor is not None:
        url = f"/billing/products?limit=500&cursor={cursor}"
        page = (await client.get(url, headers=admin_headers)).json()
        listed, cursor = listed + page["items"], page["next_cursor"]
    assert next(p for p in listed if p["id"] == product["id"])["active"] is True


@pytest.mark.parametrize("expires_at", [0, 1893456000, 1.5, "0", "1893456000", True])
async def test_a_number_is_not_a_time(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime, expires_at: Any
) -> None:
    name = unique("tok")
    body = {"name": name, "scopes": ["*"], "expires_at": expires_at}
    r = await client.post(TOKENS, json=body, headers=admin_headers)
    assert_names_field(r, 400, "expires_at", "body")
    sql = "SELECT count(*) FROM identity.personal_access_tokens WHERE name = :n"
    assert await count(runtime, sql, n=name) == 0


async def test_a_time_without_its_offset_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime, org: str
) -> None:
    """Naive times cannot be compared with the aware ones Keel keeps."""
    name = unique("tok")
    body = {"name": name, "scopes": ["*"], "expires_at": "2030-01-01T00:00:00"}
    assert_names_field(await client.post(TOKENS, json=body, headers=admin_headers), 400, "expires_at", "body")
    r = await client.post(f"/orgs/{org}/service-accounts", json={"name": name}, headers=admin_headers)
    assert r.status_code == 201, r.text
    keys = f"/orgs/{org}/service-accounts/{r.json()['id']}/keys"
    assert_names_field(await client.post(keys, json=body, headers=admin_headers), 400, "expires_at", "body")
    sql = "SELECT count(*) FROM identity.personal_access_tokens WHERE name = :n"
    assert await count(runtime, sql, n=name) == 0


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        pytest.param(PERSONS, {"kind": "individual", "display_name": 42}, "display_name", id="name"),
        pytest.param(PERSONS, {"kind": "individual", "display_name": "A", "email": 1}, "email", id="email"),
        pytest.param("/organizations", {"slug": unique("o"), "name": 1.5}, "name", id="org-name"),
        pytest.param(TOKENS, {"name": "t", "scopes": [1]}, "scopes[0]", id="scope"),
        pytest.param(
            "/billing/coupons",
            {"key": unique("c"), "name": "C", "percent_off_bp": 100, "max_redemptions": "5"},
            "max_redemptions",
            id="int-from-string",
        ),
        pytest.param(
            "/billing/coupons",
            {"key": unique("c"), "name": "C", "percent_off_bp": 100.5},  # 100.0 is the integer 100
            "percent_off_bp",
            id="int-from-float",
        ),
    ],
)
async def test_values_keep_their_documented_type(
    client: httpx.AsyncClient, admin_headers: dict[str, str], url: str, body: dict[str, Any], field: str
) -> None:
    assert_names_field(await client.post(url, json=body, headers=admin_headers), 400, field, "body")


async def test_nested_fields_are_named_by_their_path(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime, org: str
) -> None:
    r = await client.post(
        f"/orgs/{org}/workspaces", json={"slug": unique("ws"), "name": "W"}, headers=admin_headers
    )
    workspace = r.json()["id"]
    good = {"event_id": unique("e"), "workspace": workspace, "resource_key": "k", "quantity": "1"}
    bad = {**good, "event_id": unique("e"), "occurred_at": 0}
    r = await client.post(
        "/entitlements/usage-events",
        params={"org_id": org},
        json={"events": [good, bad]},
        headers=admin_headers,
    )
    assert_names_field(r, 400, "events[1].occurred_at", "body")
    sql = "SELECT count(*) FROM entitlements.usage_events WHERE org_id = :o"
    assert await count(runtime, sql, o=org) == 0


async def test_a_text_plain_body_is_not_parsed_as_json(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    name = unique("plain")
    raw = httpx.Request("POST", "/", json={"kind": "individual", "display_name": name}).content
    r = await client.post(PERSONS, content=raw, headers={**admin_headers, "content-type": "text/plain"})
    assert_problem(r, 415, "unsupported_media_type")
    assert await count(runtime, "SELECT count(*) FROM identity.persons WHERE display_name = :n", n=name) == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("to=0.5", "to", id="to-fraction"),
        pytest.param("from=1700000000", "from", id="from-epoch"),
        pytest.param("to=-1e3", "to", id="to-exponent"),
        pytest.param("limit=10.0", "limit", id="limit-float"),
        pytest.param("limit=1e1", "limit", id="limit-exponent"),
        pytest.param("limit=ten", "limit", id="limit-word"),
    ],
)
async def test_query_parameters_are_not_coerced(
    client: httpx.AsyncClient, admin_headers: dict[str, str], org: str, query: str, field: str
) -> None:
    r = await client.get(f"/entitlements/orgs/{org}/usage-events?{query}", headers=admin_headers)
    assert_names_field(r, 400, field, "query")


@pytest.mark.parametrize(
    "query", ["", "limit=10", "limit=500", "to=2026-01-01T00:00:00Z", "from=2026-01-01T00:00:00%2B02:00"]
)
async def test_query_parameters_parse_from_their_text(
    client: httpx.AsyncClient, admin_headers: dict[str, str], org: str, query: str
) -> None:
    r = await client.get(f"/entitlements/orgs/{org}/usage-events?{query}", headers=admin_headers)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("value", ["1", "0", "True", "yes", "on"])
async def test_query_booleans_are_only_true_or_false(
    client: httpx.AsyncClient, admin_headers: dict[str, str], value: str
) -> None:
    r = await client.get(f"/audit/legal-holds?active={value}", headers=admin_headers)
    assert_names_field(r, 400, "active", "query")


async def test_query_booleans_true_and_false(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for value in ("true", "false"):
        r = await client.get(f"/audit/legal-holds?active={value}", headers=admin_headers)
        assert r.status_code == 200, r.text


async def test_integer_query_parameters_still_parse(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    r = await client.get(
        "/cooperative/allocations/preview?fiscal_year=2025&currency=EUR&surplus=1000", headers=admin_headers
    )
    assert r.status_code == 200, r.text
    r = await client.get(
        "/cooperative/allocations/preview?fiscal_year=2025.0&currency=EUR&surplus=1000", headers=admin_headers
    )
    assert_names_field(r, 400, "fiscal_year", "query")


async def test_a_decimal_sent_as_a_json_number_keeps_every_digit(
    client: httpx.AsyncClient, admin_headers: dict[str, str], org: str
) -> None:
    """Bodies are decoded straight into their types: a JSON number for a decimal is read from
    its text, never through a float (which kept 17 significant digits of these 22)."""
    r = await client.post(
        f"/orgs/{org}/workspaces", json={"slug": unique("ws"), "name": "W"}, headers=admin_headers
    )
    workspace = r.json()["id"]
    event_id = unique("exact")
    event = {"event_id": event_id, "workspace": workspace, "resource_key": "k", "quantity": "QTY"}
    raw = msgspec.json.encode({"events": [event]}).replace(b'"QTY"', b"1234567890.123456789012")
    r = await client.post(
        "/entitlements/usage-events",
        params={"org_id": org},
        content=raw,
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    r = await client.get(f"/entitlements/orgs/{org}/usage-events", headers=admin_headers)
    [stored] = [e for e in r.json()["items"] if e["event_id"] == event_id]
    assert stored["quantity"] == "1234567890.123456789012"
