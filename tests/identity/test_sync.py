"""`POST /identity/sync/keycloak`: operators upsert Keycloak UserRepresentations in bulk."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from platform_core.persistence.db import asyncpg_dsn
from platform_core.runtime.runtime import Runtime
from tests.identity.conftest import Signer, assert_problem, bearer, make_person


def representation(sub: str, **fields: Any) -> dict[str, Any]:
    # the shape Keycloak's admin API returns, including fields Keel does not mirror
    return {
        "id": sub,
        "username": f"user-{sub[:8]}",
        "email": f"{sub[:8]}@example.org",
        "emailVerified": False,
        "firstName": "Given",
        "lastName": "Family",
        "enabled": True,
        "createdTimestamp": 1700000000000,
        "totp": False,
        "attributes": {"locale": ["en"]},
        "access": {"manage": True},
        **fields,
    }


async def users_by_sub(db_url: str, subs: list[str]) -> dict[str, asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        rows = await conn.fetch(
            "SELECT u.*, p.display_name AS person_name, p.email AS person_email FROM identity.users u"
            " JOIN identity.persons p ON p.id = u.person_id WHERE keycloak_sub = ANY($1)",
            subs,
        )
    finally:
        await conn.close()
    return {r["keycloak_sub"]: r for r in rows}


async def test_a_batch_creates_then_updates_then_is_unchanged(
    api: httpx.AsyncClient, admin_headers: dict[str, str], db_url: str
) -> None:
    subs = [str(uuid.uuid4()) for _ in range(3)]
    batch = [representation(s) for s in subs]
    r = await api.post("/identity/sync/keycloak", json=batch, headers=admin_headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"created": 3, "updated": 0, "unchanged": 0}
    rows = await users_by_sub(db_url, subs)
    assert rows[subs[0]]["display_name"] == "Given Family"
    assert rows[subs[0]]["person_name"] == "Given Family"
    assert rows[subs[0]]["status"] == "active"

    batch[0] = representation(subs[0], email="NEW@example.org", emailVerified=True, firstName="Changed")
    batch[1] = representation(subs[1], enabled=False)
    r = await api.post("/identity/sync/keycloak", json=batch, headers=admin_headers)
    assert r.json() == {"created": 0, "updated": 2, "unchanged": 1}
    rows = await users_by_sub(db_url, subs)
    assert (rows[subs[0]]["email"], rows[subs[0]]["email_verified"]) == ("new@example.org", True)
    assert rows[subs[0]]["person_email"] == "new@example.org"
    assert rows[subs[0]]["person_name"] == "Changed Family"
    assert rows[subs[1]]["status"] == "disabled"

    r = await api.post("/identity/sync/keycloak", json=batch, headers=admin_headers)
    assert r.json() == {"created": 0, "updated": 0, "unchanged": 3}


async def test_a_user_disabled_in_keycloak_cannot_log_in(
    api: httpx.AsyncClient, admin_headers: dict[str, str], signer: Signer
) -> None:
    sub = str(uuid.uuid4())
    assert (await api.get("/identity/me", headers=bearer(signer.token(sub)))).status_code == 200
    await api.post(
        "/identity/sync/keycloak", json=[representation(sub, enabled=False)], headers=admin_headers
    )
    assert_problem(
        await api.get("/identity/me", headers=bearer(signer.token(sub))), 401, "invalid_credential"
    )
    await api.post("/identity/sync/keycloak", json=[representation(sub, enabled=True)], headers=admin_headers)
    assert (await api.get("/identity/me", headers=bearer(signer.token(sub)))).status_code == 200


async def test_sync_never_writes_pii_back_onto_an_erased_person(
    api: httpx.AsyncClient, admin_headers: dict[str, str], signer: Signer, db_url: str
) -> None:
    sub = str(uuid.uuid4())
    person_id = (await api.get("/identity/me", headers=bearer(signer.token(sub)))).json()["id"]
    assert (await api.delete(f"/identity/persons/{person_id}/pii", headers=admin_headers)).status_code == 200
    r = await api.post("/identity/sync/keycloak", json=[representation(sub)], headers=admin_headers)
    assert r.status_code == 200, r.text
    row = (await users_by_sub(db_url, [sub]))[sub]
    assert (row["email"], row["person_email"], row["status"]) == (None, None, "disabled")
    assert_problem(await api.get("/identity/me", headers=bearer(signer.token(sub))), 401)


async def test_sync_is_for_operators(api: httpx.AsyncClient, oidc_runtime: Runtime) -> None:
    _, token = await make_person(oidc_runtime, "Not an operator")
    r = await api.post(
        "/identity/sync/keycloak", json=[representation(str(uuid.uuid4()))], headers=bearer(token)
    )
    assert_problem(r, 403, "platform_operator_only")


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"users": []},
        [{"username": "no-id"}],
        [{"id": ""}],
        [{"id": "x" * 256}],
        [{"id": "a", "enabled": "yes"}],
        [{"id": "a", "email": 5}],
        [representation("a")] * 1001,
    ],
)
async def test_bad_batches_are_400(
    api: httpx.AsyncClient, admin_headers: dict[str, str], body: object
) -> None:
    assert_problem(await api.post("/identity/sync/keycloak", json=body, headers=admin_headers), 400)
