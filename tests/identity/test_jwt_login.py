"""Keycloak access tokens through the HTTP app: just-in-time sync of users and persons, and
every kind of bad token answered with 401 problem+json."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import httpx
import msgspec
import pytest

from modules.composition import build_runtime
from platform_core.core.config import Settings
from platform_core.persistence.db import asyncpg_dsn
from tests.identity.conftest import (
    Signer,
    assert_problem,
    audit_records,
    bearer,
    client_for,
    drain_audit,
    jwks_document,
)
from tests.identity.test_oidc import JWKSServer


def new_sub() -> str:
    return str(uuid.uuid4())


async def user_row(db_url: str, sub: str) -> asyncpg.Record | None:
    conn = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        row: asyncpg.Record | None = await conn.fetchrow(
            "SELECT u.*, u.xmin::text AS version FROM identity.users u WHERE keycloak_sub = $1", sub
        )
        return row
    finally:
        await conn.close()


async def test_the_first_token_of_a_sub_provisions_a_user_and_a_person(
    api: httpx.AsyncClient, signer: Signer, db_url: str
) -> None:
    sub = new_sub()
    r = await api.get(
        "/identity/me", headers=bearer(signer.token(sub, name="Grace Hopper", email="GRACE@Example.org"))
    )
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["display_name"] == "Grace Hopper"
    assert me["email"] == "grace@example.org"
    user = await user_row(db_url, sub)
    assert user is not None
    assert user["person_id"] == uuid.UUID(me["id"])
    assert user["email"] == "grace@example.org"
    assert user["email_verified"] is True
    assert user["status"] == "active"
    assert user["last_login_at"] is not None

    again = await api.get(
        "/identity/me", headers=bearer(signer.token(sub, name="Grace Hopper", email="grace@example.org"))
    )
    assert again.json()["id"] == me["id"], "the same sub is the same person"


async def test_later_tokens_update_email_and_name_without_writing_when_nothing_changed(
    api: httpx.AsyncClient, signer: Signer, db_url: str
) -> None:
    sub = new_sub()
    iat = int(time.time()) - 30
    token = signer.token(sub, name="Ada", email="ada@example.org", iat=iat, auth_time=iat)
    person_id = (await api.get("/identity/me", headers=bearer(token))).json()["id"]
    before = await user_row(db_url, sub)
    assert before is not None
    assert (await api.get("/identity/me", headers=bearer(token))).status_code == 200
    same = await user_row(db_url, sub)
    assert same is not None
    assert same["version"] == before["version"], "an unchanged token writes nothing"

    renamed = signer.token(sub, name="Ada Lovelace", email="ada@lovelace.example", iat=iat, auth_time=iat)
    r = await api.get("/identity/me", headers=bearer(renamed))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == person_id
    assert r.json()["display_name"] == "Ada Lovelace"
    assert r.json()["email"] == "ada@lovelace.example"
    after = await user_row(db_url, sub)
    assert after is not None
    assert (after["email"], after["display_name"]) == ("ada@lovelace.example", "Ada Lovelace")


async def test_a_name_set_in_keel_survives_until_keycloak_changes_it(
    api: httpx.AsyncClient, signer: Signer
) -> None:
    sub = new_sub()
    token = signer.token(sub, name="Kay")
    person_id = (await api.get("/identity/me", headers=bearer(token))).json()["id"]
    r = await api.patch(
        f"/identity/persons/{person_id}", json={"display_name": "Kay (Billing)"}, headers=bearer(token)
    )
    assert r.status_code == 200, r.text
    assert (await api.get("/identity/me", headers=bearer(token))).json()["display_name"] == "Kay (Billing)"
    changed = signer.token(sub, name="Kay Smith")
    assert (await api.get("/identity/me", headers=bearer(changed))).json()["display_name"] == "Kay Smith"


async def test_the_display_name_falls_back_to_names_username_email_and_sub(
    api: httpx.AsyncClient, signer: Signer
) -> None:
    sub = new_sub()
    cases = [
        ({"name": None, "given_name": "Alan", "family_name": "Turing"}, "Alan Turing"),
        ({"name": None, "preferred_username": "aturing"}, "aturing"),
        ({"name": None, "email": "alan@example.org"}, "alan@example.org"),
    ]
    for claims, expected in cases:
        s = new_sub()
        r = await api.get("/identity/me", headers=bearer(signer.token(s, **claims)))
        assert r.json()["display_name"] == expected
    r = await api.get("/identity/me", headers=bearer(signer.token(sub, name=None, email=None)))
    assert r.json()["display_name"] == sub
    assert r.json()["email"] is None


async def test_concurrent_first_tokens_provision_one_user(
    api: httpx.AsyncClient, signer: Signer, db_url: str
) -> None:
    sub = new_sub()
    token = signer.token(sub)
    responses = await asyncio.gather(*(api.get("/identity/me", headers=bearer(token)) for _ in range(8)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["id"] for r in responses}) == 1
    conn = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        users = await conn.fetchval("SELECT count(*) FROM identity.users WHERE keycloak_sub = $1", sub)
        persons = await conn.fetchval(
            "SELECT count(*) FROM identity.persons WHERE email = $1", f"{sub}@example.org"
        )
    finally:
        await conn.close()
    assert (users, persons) == (1, 1), "the losers' persons were rolled back with their savepoint"


def expired(signer: Signer) -> str:
    return signer.token(new_sub(), exp=int(time.time()) - 60)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(expired, id="expired"),
        pytest.param(lambda s: s.token(new_sub(), nbf=int(time.time()) + 600), id="not-yet-valid"),
        pytest.param(lambda s: s.token(new_sub(), aud="other-client"), id="wrong-audience"),
        pytest.param(lambda s: s.token(new_sub(), iss="https://evil.test/realms/keel"), id="wrong-issuer"),
        pytest.param(lambda s: Signer(kid=s.kid).token(new_sub()), id="bad-signature"),
        pytest.param(lambda s: Signer().token(new_sub()), id="unknown-kid"),
        pytest.param(lambda s: s.token(new_sub(), typ="ID"), id="id-token"),
        pytest.param(lambda s: s.token(new_sub(), typ="Refresh"), id="refresh-token"),
        pytest.param(lambda s: s.token(new_sub())[:-10], id="truncated"),
        pytest.param(lambda s: "eyJ" + "x" * 40, id="garbage"),
        pytest.param(lambda s: "eyJhbGciOiJub25lIn0.e30.", id="alg-none"),
    ],
)
async def test_bad_tokens_are_401_problems(api: httpx.AsyncClient, signer: Signer, make: object) -> None:
    token = make(signer)  # type: ignore[operator]
    r = await api.get("/identity/me", headers=bearer(token))
    assert_problem(r, 401, "invalid_credential")


async def test_without_oidc_settings_a_jwt_is_refused(client: httpx.AsyncClient, signer: Signer) -> None:
    r = await client.get("/identity/me", headers=bearer(signer.token(new_sub())))
    assert_problem(r, 401, "invalid_credential")


async def test_jit_provisioning_is_audited_as_the_person_with_the_source_ip(
    api: httpx.AsyncClient, signer: Signer, oidc_runtime: object, admin_headers: dict[str, str]
) -> None:
    sub = new_sub()
    person_id = (await api.get("/identity/me", headers=bearer(signer.token(sub)))).json()["id"]
    await drain_audit(oidc_runtime)  # type: ignore[arg-type]
    records = await audit_records(api, admin_headers, actor_id=person_id)
    actions = {r["action"]: r for r in records}
    assert {"identity.person.created", "identity.user.created"} <= set(actions)
    created = actions["identity.user.created"]
    assert created["target"]["type"] == "user"
    assert created["source_ip"] == "127.0.0.1"
    assert created["metadata"]["keycloak_sub"] == sub


async def test_a_rotated_key_served_over_http_is_picked_up_by_one_refresh(
    oidc_settings: Settings, signer: Signer
) -> None:
    with JWKSServer(jwks_document(signer)) as server:
        settings = msgspec.structs.replace(oidc_settings, oidc_jwks_file=None, oidc_jwks_url=server.url)
        runtime = build_runtime(settings)
        try:
            async with client_for(runtime) as c:
                assert (
                    await c.get("/identity/me", headers=bearer(signer.token(new_sub())))
                ).status_code == 200
                assert server.requests == 1
                rotated = Signer()
                server.document = jwks_document(signer, rotated)
                r = await c.get("/identity/me", headers=bearer(rotated.token(new_sub())))
                assert r.status_code == 200, r.text
                assert server.requests == 2
                forged = Signer()
                for _ in range(3):
                    r = await c.get("/identity/me", headers=bearer(forged.token(new_sub())))
                    assert_problem(r, 401, "invalid_credential")
                assert server.requests == 2, "unknown kids right after a refresh are rate-limited"
        finally:
            await runtime.dispose()
