"""No client input answers a 5xx: a NUL character anywhere (body, keys, query, path), integers
past their column's range, JSON nested 100,000 deep, oversize bodies (413, chunked too) and
non-JSON bodies (415) are each refused with a problem naming the field, and nothing is written.
Everything goes through the real application and database."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from litestar import get
from litestar.di import NamedDependency
from sqlalchemy import text

from modules.composition import MODULES
from platform_core.core.config import Settings
from platform_core.core.ranges import INT32_MAX
from platform_core.http.app import create_app
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.db import driver_of
from platform_core.runtime.module import ModuleSpec
from platform_core.runtime.runtime import Runtime
from tests.support.problems import assert_names_field, assert_problem

PERSONS = "/identity/persons"
JSON = {"content-type": "application/json"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def count(runtime: Runtime, sql: str, **params: Any) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


async def persons_named(runtime: Runtime, prefix: str) -> int:
    return await count(
        runtime, "SELECT count(*) FROM identity.persons WHERE display_name LIKE :p", p=f"{prefix}%"
    )


class Tenant:
    """An organization with a workspace and a numeric resource key, made over HTTP."""

    def __init__(self, org: str, workspace: str, key: str) -> None:
        self.org, self.workspace, self.key = org, workspace, key

    def event(self, **extra: Any) -> dict[str, Any]:
        return {
            "event_id": unique("ev"),
            "workspace": self.workspace,
            "resource_key": self.key,
            "quantity": "1",
            **extra,
        }


@pytest.fixture(scope="module")
async def tenant(client: httpx.AsyncClient, admin_token: str) -> Tenant:
    headers = {"Authorization": f"Bearer {admin_token}"}
    r = await client.post("/organizations", json={"slug": unique("org"), "name": "Org"}, headers=headers)
    assert r.status_code == 201, r.text
    org = r.json()["id"]
    r = await client.post(
        f"/orgs/{org}/workspaces", json={"slug": unique("ws"), "name": "W"}, headers=headers
    )
    assert r.status_code == 201, r.text
    workspace = r.json()["id"]
    key = f"calls.{uuid.uuid4().hex[:8]}"
    body = {"key": key, "name": key, "kind": "numeric", "aggregation": "SUM"}
    r = await client.post("/entitlements/resource-keys", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return Tenant(org, workspace, key)


async def usage_rows(runtime: Runtime, tenant: Tenant) -> int:
    return await count(
        runtime, "SELECT count(*) FROM entitlements.usage_events WHERE org_id = :o", o=tenant.org
    )


async def ingest(
    client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, body: Any
) -> httpx.Response:
    return await client.post(
        "/entitlements/usage-events", params={"org_id": tenant.org}, json=body, headers=headers
    )


# --- NUL characters ---------------------------------------------------------------------------


async def test_nul_in_a_body_string_is_400_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    name = unique("nul")
    body = {"kind": "individual", "display_name": f"{name}\u0000"}
    r = await client.post(PERSONS, json=body, headers=admin_headers)
    assert_names_field(r, 400, "display_name", "body")
    assert await persons_named(runtime, name) == 0


@pytest.mark.parametrize(
    ("event", "field"),
    [
        pytest.param({"event_id": "ev-\u0000"}, "events[1].event_id", id="event_id"),
        pytest.param({"properties": {"note": "a\u0000b"}}, "events[1].properties.note", id="property"),
        pytest.param({"properties": {"a\u0000b": 1}}, "events[1].properties.a\\u0000b", id="property-key"),
        pytest.param(
            {"properties": {"deep": [{"x": ["\u0000"]}]}}, "events[1].properties.deep[0].x[0]", id="nested"
        ),
    ],
)
async def test_nul_in_usage_events_is_400_and_no_event_of_the_batch_is_stored(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    runtime: Runtime,
    tenant: Tenant,
    event: dict[str, Any],
    field: str,
) -> None:
    before = await usage_rows(runtime, tenant)
    r = await ingest(client, admin_headers, tenant, {"events": [tenant.event(), tenant.event(**event)]})
    assert_names_field(r, 400, field, "body")
    assert await usage_rows(runtime, tenant) == before


async def test_a_type_error_before_a_nul_in_malformed_json_is_400(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    raw = b'{"kind": 5, "display_name": "a\\u0000", '
    r = await client.post(PERSONS, content=raw, headers={**admin_headers, **JSON})
    assert_names_field(r, 400, "kind", "body")


async def test_an_escaped_backslash_before_u0000_is_not_a_nul(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    name = unique("text")
    r = await client.post(
        PERSONS, json={"kind": "individual", "display_name": f"{name}\\u0000"}, headers=admin_headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["display_name"] == f"{name}\\u0000"


@pytest.mark.parametrize(
    ("url", "field"),
    [
        pytest.param("/audit/logs?action=a%00b", "action", id="audit-action"),
        pytest.param("/audit/logs?actor_id=%00", "actor_id", id="audit-actor"),
        pytest.param("/entitlements/check?workspace={ws}&key=k%00", "key", id="check-key"),
        pytest.param("/entitlements/orgs/{org}/usage-events?resource_key=%00", "resource_key", id="trail"),
        pytest.param("/entitlements/orgs/{org}/usage-events?cursor=%00", "cursor", id="cursor"),
    ],
)
async def test_nul_in_the_query_string_is_400_naming_the_parameter(
    client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant, url: str, field: str
) -> None:
    r = await client.get(url.format(org=tenant.org, ws=tenant.workspace), headers=admin_headers)
    assert_names_field(r, 400, field, "query")


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        pytest.param("GET", "/entitlements/sets/a%00b", "key", id="set"),
        pytest.param("GET", "/entitlements/resource-keys/%00", "key", id="resource-key"),
        pytest.param("GET", "/entitlements/sets/a%00/versions/1", "key", id="set-version"),
        pytest.param(
            "PUT", "/entitlements/orgs/{org}/pools/{org}/ondemand/k%00", "resource_key", id="ondemand"
        ),
        pytest.param("POST", "/integration/webhooks/stripe%00", "provider", id="webhook-provider"),
    ],
)
async def test_nul_in_a_path_segment_is_400_naming_the_parameter(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    tenant: Tenant,
    method: str,
    url: str,
    field: str,
) -> None:
    r = await client.request(
        method, url.format(org=tenant.org), json={"enabled": False}, headers=admin_headers
    )
    assert_names_field(r, 400, field, "path")


@pytest.mark.parametrize("header", ["Idempotency-Key", "User-Agent"])
async def test_nul_in_a_stored_header_is_422_not_500(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime, header: str
) -> None:
    """Both are stored (idempotency keys, audit context). HTTP servers refuse a NUL in a header
    before the application sees it; a test client does not, and the safety net answers."""
    name = unique("hdr")
    body = {"kind": "individual", "display_name": name}
    r = await client.post(PERSONS, json=body, headers={**admin_headers, header: "a\x00b"})
    assert_problem(r, 422, "unprocessable")
    assert await persons_named(runtime, name) == 0


# --- integers past their column ---------------------------------------------------------------


async def test_a_version_past_int32_is_400_naming_it(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    r = await client.get(f"/entitlements/sets/any/versions/{INT32_MAX + 1}", headers=admin_headers)
    assert_names_field(r, 400, "version", "path")
    r = await client.get(f"/entitlements/sets/{unique('none')}/versions/{INT32_MAX}", headers=admin_headers)
    assert_problem(r, 404)


async def test_max_redemptions_past_int32_is_400_and_no_coupon_is_made(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    key = unique("c")
    body = {"key": key, "name": "Big", "percent_off_bp": 100, "max_redemptions": INT32_MAX + 1}
    r = await client.post("/billing/coupons", json=body, headers=admin_headers)
    assert_names_field(r, 400, "max_redemptions", "body")
    assert await count(runtime, "SELECT count(*) FROM billing.coupons WHERE key = :k", k=key) == 0
    r = await client.post(
        "/billing/coupons", json={**body, "max_redemptions": INT32_MAX}, headers=admin_headers
    )
    assert r.status_code == 201, r.text
    coupon = r.json()["id"]
    r = await client.post(
        f"/billing/coupons/{coupon}/promotion-codes",
        json={"code": unique("P"), "max_redemptions": INT32_MAX + 1},
        headers=admin_headers,
    )
    assert_names_field(r, 400, "max_redemptions", "body")


# A module whose routes send what validation could have let through, to show the safety net:
# data exceptions a client value causes answer 422, a bug (division by zero) still 500.


@get("/probe/int32")
async def int32_overflow(uow: NamedDependency[UnitOfWork]) -> None:
    await uow.session.execute(text("SELECT CAST(:v AS integer)"), {"v": INT32_MAX + 1})


@get("/probe/numeric")
async def numeric_overflow(uow: NamedDependency[UnitOfWork]) -> None:
    await uow.session.execute(text("SELECT CAST(:v AS numeric(5, 2))"), {"v": "123456"})


@get("/probe/raw-nul")
async def raw_nul(uow: NamedDependency[UnitOfWork]) -> None:
    connection = await driver_of(await uow.session.connection())
    await connection.fetchval("SELECT $1::text", "a\x00b")


@get("/probe/division")
async def division(uow: NamedDependency[UnitOfWork]) -> None:
    await uow.session.execute(text("SELECT 1 / 0"))


PROBE = ModuleSpec(
    name="probe",
    schema="probe",
    route_handlers=[int32_overflow, numeric_overflow, raw_nul, division],
    public_paths=["/probe"],
)


@pytest.fixture(scope="module")
async def probe_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    runtime = Runtime(settings, [*MODULES, PROBE])
    transport = httpx.ASGITransport(app=create_app(runtime), raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://keel.test") as client:
        yield client
    await runtime.dispose()


@pytest.mark.parametrize("path", ["/probe/int32", "/probe/numeric", "/probe/raw-nul"])
async def test_data_exceptions_from_values_are_422_not_500(
    probe_client: httpx.AsyncClient, path: str
) -> None:
    body = assert_problem(await probe_client.get(path), 422, "unprocessable")
    assert "SELECT" not in str(body)


async def test_a_division_by_zero_is_still_a_500(probe_client: httpx.AsyncClient) -> None:
    assert_problem(await probe_client.get("/probe/division"), 500, "internal_error")


# --- depth, size, media type ------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


async def test_json_nested_100000_deep_is_400(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime, tenant: Tenant
) -> None:
    r = await client.post(PERSONS, content=b"[" * 100_000 + b"]" * 100_000, headers={**admin_headers, **JSON})
    assert_problem(r, 400, "invalid_request")
    before = await usage_rows(runtime, tenant)
    event = tenant.event(properties={"deep": "X"})
    raw = httpx.Request("POST", "/", json={"events": [event]}).content
    raw = raw.replace(b'"X"', nested(100_000))
    r = await client.post(
        "/entitlements/usage-events",
        params={"org_id": tenant.org},
        content=raw,
        headers={**admin_headers, **JSON},
    )
    assert_problem(r, 400, "invalid_request")
    assert await usage_rows(runtime, tenant) == before


async def test_a_cursor_nested_deep_is_400(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    """Cursors are base64 JSON; one nested past the decoder's depth is refused, not a 500: every
    list route bounds a cursor's length (platform_core.http.list_params), so it never reaches it."""
    cursor = base64.urlsafe_b64encode(b"[" * 20_000 + b"]" * 20_000).decode().rstrip("=")
    r = await client.get("/identity/me/tokens", params={"cursor": cursor}, headers=admin_headers)
    assert_problem(r, 400, "invalid_request")
    assert r.json()["errors"][0]["field"] == "cursor"


async def test_a_body_over_the_limit_is_413(
    client: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings, runtime: Runtime
) -> None:
    name = unique("big")
    padding = "A" * (settings.max_body_bytes + 1)
    body = {"kind": "individual", "display_name": name, "legal_name": padding}
    r = await client.post(PERSONS, json=body, headers=admin_headers)
    assert_problem(r, 413, "payload_too_large")
    assert await persons_named(runtime, name) == 0


@pytest.fixture(scope="module")
async def small_client(settings: Settings, admin_token: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with KEEL_MAX_BODY_BYTES at 1 KiB."""
    runtime = Runtime(msgspec.structs.replace(settings, max_body_bytes=1024), MODULES)
    transport = httpx.ASGITransport(app=create_app(runtime), raise_app_exceptions=False)  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://keel.test", headers=headers) as client:
        yield client
    await runtime.dispose()


async def test_the_limit_is_the_setting_and_counts_chunked_bodies(
    small_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    name = unique("chunk")
    fits = {"kind": "individual", "display_name": name + "D" * 150, "legal_name": "L" * 200}
    assert (await small_client.post(PERSONS, json=fits)).status_code == 201
    big = httpx.Request("POST", "/", json={**fits, "legal_name": "L" * 1000}).content

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: Transfer-Encoding chunked
        for i in range(0, len(big), 300):
            yield big[i : i + 300]

    r = await small_client.post(PERSONS, content=chunks(), headers=JSON)
    assert "content-length" not in r.request.headers
    assert_problem(r, 413, "payload_too_large")
    r = await small_client.post(PERSONS, content=big, headers=JSON)
    assert_problem(r, 413, "payload_too_large")
    assert await persons_named(runtime, name) == 1


async def test_a_full_usage_batch_fits_the_default_limit(
    client: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings, tenant: Tenant
) -> None:
    """1,000 events with the longest ids and 1 KiB of properties each: more than 1 MiB."""
    events = [
        tenant.event(
            event_id=f"{i:06d}-" + uuid.uuid4().hex * 6,
            occurred_at="2026-01-01T00:00:00.000000+00:00",
            quantity="1234567.123456",
            properties={"endpoint": "/v1/items/" + "x" * 1000, "status": 200, "region": "eu-west-1"},
        )
        for i in range(1000)
    ]
    raw = httpx.Request("POST", "/", json={"events": events}).content
    assert 1024 * 1024 < len(raw) < settings.max_body_bytes
    r = await client.post(
        "/entitlements/usage-events",
        params={"org_id": tenant.org},
        content=raw,
        headers={**admin_headers, **JSON},
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_non_json_body_on_a_json_route_is_415(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime, content_type: str | None
) -> None:
    name = unique("plain")
    raw = httpx.Request("POST", "/", json={"kind": "individual", "display_name": name}).content
    headers = {**admin_headers, **({"content-type": content_type} if content_type else {})}
    r = await client.post(PERSONS, content=raw, headers=headers)
    assert_problem(r, 415, "unsupported_media_type")
    assert await persons_named(runtime, name) == 0


async def test_json_media_types_with_parameters_or_suffix_are_json(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        raw = httpx.Request("POST", "/", json={"kind": "individual", "display_name": unique("j")}).content
        r = await client.post(PERSONS, content=raw, headers={**admin_headers, "content-type": content_type})
        assert r.status_code == 201, r.text
