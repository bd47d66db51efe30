"""Every failure at the HTTP boundary is an RFC 9457 problem document with `type`, `title`,
`status` and a stable `code`; validation names the offending field; nothing leaks a trace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import get, post
from litestar.di import NamedDependency
from sqlalchemy import text

from modules.composition import MODULES
from platform_core.core.config import Settings
from platform_core.http.app import create_app
from platform_core.messaging.uow import UnitOfWork
from platform_core.runtime.module import ModuleSpec
from platform_core.runtime.runtime import Runtime

TRACE_MARKERS = ("Traceback", 'File "', "site-packages", "platform_core/", "modules/", ".py:")


def assert_no_stack_trace(response: httpx.Response) -> None:
    for marker in TRACE_MARKERS:
        assert marker not in response.text, f"response leaks {marker!r}: {response.text[:500]}"


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is a problem document with Keel's stable fields and no stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["code"], str)
    assert body["code"]
    assert body["type"].endswith("/" + body["code"])
    if code is not None:
        assert body["code"] == code, body
    assert_no_stack_trace(response)
    return body


def error_fields(body: dict[str, Any]) -> list[Any]:
    return [error.get("field") for error in body.get("errors", [])]


PERSONS = "/identity/persons"


async def test_malformed_json_body_is_400(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    r = await client.post(
        PERSONS,
        content=b'{"kind": "individual", ',
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert_problem(r, 400, "invalid_request")


async def test_body_of_the_wrong_shape_is_400(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    r = await client.post(PERSONS, json=["individual", "Ada"], headers=admin_headers)
    assert_problem(r, 400, "invalid_request")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(
            {"kind": "individual", "display_name": "Ada", "nickname": "A"}, "nickname", id="unknown"
        ),
        pytest.param({"kind": "individual", "display_name": 42}, "display_name", id="wrong-type"),
        pytest.param({"kind": "individual", "display_name": "A" * 201}, "display_name", id="oversize"),
        pytest.param({"kind": "individual", "display_name": ""}, "display_name", id="empty"),
        pytest.param({"kind": "robot", "display_name": "Ada"}, "kind", id="bad-enum"),
        pytest.param({"display_name": "Ada"}, "kind", id="missing"),
        pytest.param({"kind": "individual", "display_name": "Ada", "email": "nope"}, "email", id="bad-email"),
    ],
)
async def test_invalid_body_names_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str], body: dict[str, Any], field: str
) -> None:
    r = await client.post(PERSONS, json=body, headers=admin_headers)
    problem = assert_problem(r, 400, "invalid_request")
    assert error_fields(problem) == [field], problem
    assert all(error["source"] == "body" and error["message"] for error in problem["errors"])


async def test_invalid_query_parameter_names_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    r = await client.get("/audit/logs", params={"limit": "many"}, headers=admin_headers)
    problem = assert_problem(r, 400, "invalid_request")
    assert error_fields(problem) == ["limit"]
    r = await client.get("/audit/logs", params={"org_id": "not-a-uuid"}, headers=admin_headers)
    problem = assert_problem(r, 400, "invalid_request")
    assert error_fields(problem) == ["org_id"]


async def test_invalid_request_writes_nothing(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    async def persons() -> int:
        async with runtime.engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM identity.persons"))).scalar_one())

    before = await persons()
    r = await client.post(PERSONS, json={"kind": "individual", "display_name": 7}, headers=admin_headers)
    assert r.status_code == 400
    assert await persons() == before


async def test_malformed_uuid_in_path_is_400(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    r = await client.get(f"{PERSONS}/not-a-uuid", headers=admin_headers)
    assert_problem(r, 400, "invalid_path_parameter")
    r = await client.get("/orgs/not-a-uuid/members", headers=admin_headers)
    assert_problem(r, 400, "invalid_path_parameter")


async def test_unknown_entity_is_404(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    r = await client.get(f"{PERSONS}/00000000-0000-0000-0000-000000000000", headers=admin_headers)
    assert_problem(r, 404, "person_not_found")


async def test_unknown_route_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/no/such/route"), 404, "not_found")


async def test_wrong_method_is_405(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    assert_problem(await client.delete(PERSONS, headers=admin_headers), 405, "method_not_allowed")
    assert_problem(await client.put("/health"), 405, "method_not_allowed")


async def test_oversize_body_is_413(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    big = b'{"kind": "individual", "display_name": "' + b"A" * (11 * 1024 * 1024) + b'"}'
    r = await client.post(PERSONS, content=big, headers={**admin_headers, "content-type": "application/json"})
    assert_problem(r, 413, "payload_too_large")


# A throwaway module whose routes fail in every way the kernel maps, served by the real app
# factory: proves the mapping and that even a crash says nothing about the code.


@get("/boom/crash", sync_to_thread=False)
def crash() -> None:
    raise RuntimeError("secret internals at /srv/keel/platform_core/persistence/db.py line 12")


@get("/boom/division")
async def division(uow: NamedDependency[UnitOfWork]) -> None:
    await uow.session.execute(text("SELECT 1 / 0"))


@post("/boom/duplicate")
async def duplicate(uow: NamedDependency[UnitOfWork]) -> None:
    await uow.session.execute(text("CREATE TEMP TABLE boom_dup (x int PRIMARY KEY) ON COMMIT DROP"))
    await uow.session.execute(text("INSERT INTO boom_dup VALUES (1)"))
    await uow.session.execute(text("INSERT INTO boom_dup VALUES (1)"))


@post("/boom/serialization")
async def serialization(uow: NamedDependency[UnitOfWork]) -> None:
    await uow.session.execute(
        text("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$")
    )


@post("/boom/read-only")
async def read_only(uow: NamedDependency[UnitOfWork]) -> None:
    await uow.session.execute(text("SET TRANSACTION READ ONLY"))
    await uow.session.execute(text("CREATE TEMP TABLE boom_ro (x int)"))


BOOM = ModuleSpec(
    name="boom",
    schema="boom",
    route_handlers=[crash, division, duplicate, serialization, read_only],
    public_paths=["/boom"],
)


@pytest.fixture(scope="module")
async def boom_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    runtime = Runtime(settings, [*MODULES, BOOM])
    transport = httpx.ASGITransport(app=create_app(runtime), raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://keel.test") as client:
        yield client
    await runtime.dispose()


async def test_crash_is_a_bare_500_problem(boom_client: httpx.AsyncClient) -> None:
    body = assert_problem(await boom_client.get("/boom/crash"), 500, "internal_error")
    assert "secret" not in str(body)
    assert set(body) <= {"type", "title", "status", "code", "instance"}


async def test_database_error_is_a_bare_500_problem(boom_client: httpx.AsyncClient) -> None:
    body = assert_problem(await boom_client.get("/boom/division"), 500, "internal_error")
    assert "by zero" not in str(body)
    assert "SELECT" not in str(body)


async def test_unique_violation_is_409(boom_client: httpx.AsyncClient) -> None:
    body = assert_problem(await boom_client.post("/boom/duplicate"), 409, "conflict")
    assert "boom_dup" not in str(body)


async def test_serialization_failure_asks_for_a_retry(boom_client: httpx.AsyncClient) -> None:
    assert_problem(await boom_client.post("/boom/serialization"), 409, "retry")


async def test_read_only_transaction_is_409(boom_client: httpx.AsyncClient) -> None:
    assert_problem(await boom_client.post("/boom/read-only"), 409, "read_only")
