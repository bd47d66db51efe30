"""Personal access tokens over HTTP: shown once, listed without secrets, scoped, expirable,
revocable with effect on the next request, and last use recorded without a write per request."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from platform_core.auth.credentials import new_secret
from platform_core.persistence.db import asyncpg_dsn
from platform_core.runtime.runtime import Runtime
from tests.identity.conftest import assert_problem, bearer, make_person


async def token_row(db_url: str, token_id: str) -> asyncpg.Record:
    conn = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        row: asyncpg.Record = await conn.fetchrow(
            "SELECT *, xmin::text AS version FROM identity.personal_access_tokens WHERE id = $1",
            uuid.UUID(token_id),
        )
        return row
    finally:
        await conn.close()


async def db_execute(db_url: str, sql: str, *args: object) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def test_create_shows_the_secret_once_and_lists_never_do(
    api: httpx.AsyncClient, oidc_runtime: Runtime, db_url: str
) -> None:
    person_id, token = await make_person(oidc_runtime, "Tokyo")
    r = await api.post(
        "/identity/me/tokens", json={"name": "ci", "scopes": ["identity.persons:read"]}, headers=bearer(token)
    )
    assert r.status_code == 201, r.text
    issued = r.json()
    secret = issued["token"]
    assert secret.startswith("keel_pat_")
    assert issued["prefix"] == secret[: len("keel_pat_") + 4]
    assert issued["person_id"] == str(person_id)
    row = await token_row(db_url, issued["id"])
    assert secret.encode() not in bytes(row["secret_hash"]), "only the HMAC is stored"
    assert len(bytes(row["secret_hash"])) == 32

    listed = await api.get("/identity/me/tokens", headers=bearer(token))
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert items[0]["id"] == issued["id"], "newest first"
    assert all("token" not in i and "secret_hash" not in i for i in items)
    assert secret not in listed.text

    me = await api.get("/identity/me", headers=bearer(secret))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == str(person_id)


async def test_revocation_is_effective_on_the_next_request(
    api: httpx.AsyncClient, oidc_runtime: Runtime
) -> None:
    _, token = await make_person(oidc_runtime, "Rita")
    issued = (
        await api.post("/identity/me/tokens", json={"name": "x", "scopes": ["*"]}, headers=bearer(token))
    ).json()
    assert (await api.get("/identity/me", headers=bearer(issued["token"]))).status_code == 200
    r = await api.delete(f"/identity/me/tokens/{issued['id']}", headers=bearer(token))
    assert r.status_code == 204, r.text
    assert_problem(await api.get("/identity/me", headers=bearer(issued["token"])), 401, "invalid_credential")
    again = await api.delete(f"/identity/me/tokens/{issued['id']}", headers=bearer(token))
    assert again.status_code == 204, "revoking twice is harmless"
    listed = (await api.get("/identity/me/tokens", headers=bearer(token))).json()["items"]
    assert next(i for i in listed if i["id"] == issued["id"])["revoked_at"] is not None


async def test_a_token_can_revoke_itself(api: httpx.AsyncClient, oidc_runtime: Runtime) -> None:
    person_id, token = await make_person(oidc_runtime, "Self")
    own = (await api.get("/identity/me/tokens", headers=bearer(token))).json()["items"][0]
    assert (await api.delete(f"/identity/me/tokens/{own['id']}", headers=bearer(token))).status_code == 204
    assert_problem(await api.get("/identity/me", headers=bearer(token)), 401)
    assert person_id


async def test_nobody_else_can_see_or_revoke_my_tokens(api: httpx.AsyncClient, oidc_runtime: Runtime) -> None:
    _, mine = await make_person(oidc_runtime, "Mine")
    _, theirs = await make_person(oidc_runtime, "Theirs")
    my_token = (await api.get("/identity/me/tokens", headers=bearer(mine))).json()["items"][0]
    assert_problem(await api.delete(f"/identity/me/tokens/{my_token['id']}", headers=bearer(theirs)), 404)
    their_list = (await api.get("/identity/me/tokens", headers=bearer(theirs))).json()["items"]
    assert my_token["id"] not in {i["id"] for i in their_list}
    assert (await api.get("/identity/me", headers=bearer(mine))).status_code == 200


async def test_an_expired_token_is_401(api: httpx.AsyncClient, oidc_runtime: Runtime, db_url: str) -> None:
    _, token = await make_person(oidc_runtime, "Exp")
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    issued = (
        await api.post(
            "/identity/me/tokens",
            json={"name": "short", "scopes": ["*"], "expires_at": soon},
            headers=bearer(token),
        )
    ).json()
    assert (await api.get("/identity/me", headers=bearer(issued["token"]))).status_code == 200
    await db_execute(
        db_url,
        "UPDATE identity.personal_access_tokens SET expires_at = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(issued["id"]),
    )
    oidc_runtime.caches.clear()  # out-of-band SQL is not announced to the hot caches
    assert_problem(await api.get("/identity/me", headers=bearer(issued["token"])), 401, "invalid_credential")


async def test_expiry_in_the_past_is_refused(api: httpx.AsyncClient, oidc_runtime: Runtime) -> None:
    _, token = await make_person(oidc_runtime, "Past")
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    r = await api.post(
        "/identity/me/tokens", json={"name": "x", "scopes": ["*"], "expires_at": past}, headers=bearer(token)
    )
    assert_problem(r, 422, "expires_in_past")


async def test_scopes_narrow_the_token_and_cannot_be_escalated(
    api: httpx.AsyncClient, oidc_runtime: Runtime
) -> None:
    _, token = await make_person(oidc_runtime, "Narrow", scopes=["identity.tokens:*"])
    assert_problem(await api.get("/identity/me", headers=bearer(token)), 403, "insufficient_scope")
    assert (await api.get("/identity/me/tokens", headers=bearer(token))).status_code == 200
    for scopes in (["*"], ["identity.persons:read"], ["platform:admin"], ["identity.*:*"]):
        r = await api.post(
            "/identity/me/tokens", json={"name": "up", "scopes": scopes}, headers=bearer(token)
        )
        assert_problem(r, 403, "scope_escalation")
    r = await api.post(
        "/identity/me/tokens",
        json={"name": "same", "scopes": ["identity.tokens:read"]},
        headers=bearer(token),
    )
    assert r.status_code == 201, r.text

    _, wide = await make_person(oidc_runtime, "Wide", scopes=["identity.*:read", "identity.tokens:*"])
    for scopes, status in (
        (["identity.persons:read", "identity.tokens:create"], 201),
        (["identity.*:read"], 201),
        (["identity.*:*"], 403),
        (["*.persons:read"], 403),
        (["identity.persons:update"], 403),
    ):
        r = await api.post("/identity/me/tokens", json={"name": "w", "scopes": scopes}, headers=bearer(wide))
        assert r.status_code == status, (scopes, r.text)

    _, full = await make_person(oidc_runtime, "Full")
    r = await api.post(
        "/identity/me/tokens", json={"name": "admin?", "scopes": ["platform:admin"]}, headers=bearer(full)
    )
    assert_problem(r, 403, "scope_escalation")


async def test_last_use_is_recorded_at_most_once_a_minute(
    api: httpx.AsyncClient, oidc_runtime: Runtime, db_url: str
) -> None:
    _, token = await make_person(oidc_runtime, "Used")
    issued = (
        await api.post("/identity/me/tokens", json={"name": "u", "scopes": ["*"]}, headers=bearer(token))
    ).json()
    assert (await token_row(db_url, issued["id"]))["last_used_at"] is None
    assert (await api.get("/identity/me", headers=bearer(issued["token"]))).status_code == 200
    first = await token_row(db_url, issued["id"])
    assert first["last_used_at"] is not None
    for _ in range(5):
        assert (await api.get("/identity/me", headers=bearer(issued["token"]))).status_code == 200
    later = await token_row(db_url, issued["id"])
    assert later["version"] == first["version"], "no write (no new row version) within the minute"
    await db_execute(
        db_url,
        "UPDATE identity.personal_access_tokens SET last_used_at = now() - interval '2 minutes'"
        " WHERE id = $1",
        uuid.UUID(issued["id"]),
    )
    oidc_runtime.caches.clear()  # out-of-band SQL is not announced to the hot caches
    assert (await api.get("/identity/me", headers=bearer(issued["token"]))).status_code == 200
    refreshed = await token_row(db_url, issued["id"])
    assert refreshed["last_used_at"] > first["last_used_at"]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token keel_pat_x",
        "Bearer keel_pat_",
        "Bearer keel_pat_short",
        "Bearer " + new_secret("keel_pat")[:-1] + "0",  # checksum broken
        "Bearer " + new_secret("keel_pat"),  # well formed, never issued
        "Bearer " + new_secret("keel_pat") + "x",
        "Bearer unknown_prefix_123",
        "Bearer " + "A" * 5000,
    ],
)
async def test_missing_or_malformed_credentials_are_401_problems(
    api: httpx.AsyncClient, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    for method, path in (
        ("GET", "/identity/me"),
        ("GET", "/identity/me/tokens"),
        ("POST", "/identity/sync/keycloak"),
    ):
        r = await api.request(method, path, headers=headers)
        assert_problem(r, 401)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x"},
        {"name": "x", "scopes": []},
        {"name": "", "scopes": ["*"]},
        {"name": "x" * 201, "scopes": ["*"]},
        {"name": "x", "scopes": ["not a scope"]},
        {"name": "x", "scopes": "*"},
        {"name": "x", "scopes": ["*"], "expires_at": "tomorrow"},
        {"name": "x", "scopes": ["*"], "owner": "someone-else"},
    ],
)
async def test_bad_token_requests_are_400(
    api: httpx.AsyncClient, oidc_runtime: Runtime, body: object
) -> None:
    _, token = await make_person(oidc_runtime, "Bad")
    assert_problem(await api.post("/identity/me/tokens", json=body, headers=bearer(token)), 400)


async def test_a_malformed_token_id_is_400_or_404(api: httpx.AsyncClient, oidc_runtime: Runtime) -> None:
    _, token = await make_person(oidc_runtime, "Ids")
    r = await api.delete("/identity/me/tokens/not-a-uuid", headers=bearer(token))
    assert r.status_code in (400, 404)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert_problem(
        await api.delete(f"/identity/me/tokens/{uuid.uuid4()}", headers=bearer(token)), 404, "token_not_found"
    )
