"""`Idempotency-Key`: a replay returns the first response and does nothing twice, a reused key
with another request is refused, concurrent duplicates create one thing, failures are not
cached, and keys belong to the credential's owner."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import text

from modules.identity import api as identity_api
from platform_core.core.principal import PLATFORM_ADMIN_SCOPE
from platform_core.runtime.runtime import Runtime
from tests.platform.test_http_errors import assert_problem

PERSONS = "/identity/persons"


async def persons_named(runtime: Runtime, name: str) -> int:
    async with runtime.engine.connect() as conn:
        count = await conn.execute(
            text("SELECT count(*) FROM identity.persons WHERE display_name = :n"), {"n": name}
        )
        return int(count.scalar_one())


def unique_name() -> str:
    return f"Idem {uuid.uuid4().hex[:12]}"


async def test_same_key_same_body_replays_the_first_response(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    name = unique_name()
    headers = {**admin_headers, "Idempotency-Key": uuid.uuid4().hex}
    body = {"kind": "individual", "display_name": name}
    first = await client.post(PERSONS, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    second = await client.post(PERSONS, json=body, headers=headers)
    assert second.status_code == 201, second.text
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert await persons_named(runtime, name) == 1


async def test_without_a_key_every_post_creates(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    name = unique_name()
    body = {"kind": "individual", "display_name": name}
    ids = {(await client.post(PERSONS, json=body, headers=admin_headers)).json()["id"] for _ in range(2)}
    assert len(ids) == 2
    assert await persons_named(runtime, name) == 2


async def test_same_key_different_body_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    name = unique_name()
    headers = {**admin_headers, "Idempotency-Key": uuid.uuid4().hex}
    first = await client.post(PERSONS, json={"kind": "individual", "display_name": name}, headers=headers)
    assert first.status_code == 201
    other = await client.post(PERSONS, json={"kind": "business", "display_name": name}, headers=headers)
    assert_problem(other, 422, "idempotency_key_reused")
    assert await persons_named(runtime, name) == 1


async def test_same_key_with_another_query_string_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    name = unique_name()
    headers = {**admin_headers, "Idempotency-Key": uuid.uuid4().hex}
    body = {"kind": "individual", "display_name": name}
    first = await client.post(PERSONS, params={"note": "a"}, json=body, headers=headers)
    assert first.status_code == 201, first.text
    replay = await client.post(PERSONS, params={"note": "a"}, json=body, headers=headers)
    assert replay.headers["Idempotent-Replayed"] == "true"
    other = await client.post(PERSONS, params={"note": "b"}, json=body, headers=headers)
    assert_problem(other, 422, "idempotency_key_reused")
    assert await persons_named(runtime, name) == 1


async def test_a_key_older_than_24_hours_is_forgotten(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    key = uuid.uuid4().hex
    headers = {**admin_headers, "Idempotency-Key": key}
    first = await client.post(
        PERSONS, json={"kind": "individual", "display_name": unique_name()}, headers=headers
    )
    assert first.status_code == 201, first.text
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE platform.idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = :k"
            ),
            {"k": key},
        )
    name = unique_name()
    again = await client.post(PERSONS, json={"kind": "business", "display_name": name}, headers=headers)
    assert again.status_code == 201, again.text  # a new request, not a 422 reuse
    assert "Idempotent-Replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    replay = await client.post(PERSONS, json={"kind": "business", "display_name": name}, headers=headers)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == again.json()["id"]


async def test_invalid_keys_are_400(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    body = {"kind": "individual", "display_name": unique_name()}
    for key in ("", "k" * 256):
        r = await client.post(PERSONS, json=body, headers={**admin_headers, "Idempotency-Key": key})
        assert_problem(r, 400, "invalid_idempotency_key")


async def test_concurrent_duplicates_create_exactly_one(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    name = unique_name()
    headers = {**admin_headers, "Idempotency-Key": uuid.uuid4().hex}
    body = {"kind": "legal_entity", "display_name": name}
    responses = await asyncio.gather(*(client.post(PERSONS, json=body, headers=headers) for _ in range(20)))
    assert [r.status_code for r in responses] == [201] * 20, [
        r.text for r in responses if r.status_code != 201
    ]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 19
    assert await persons_named(runtime, name) == 1


async def test_a_failed_request_is_not_cached(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    """The key row lives in the request's transaction: a failure rolls it back with the work."""
    name = unique_name()
    headers = {**admin_headers, "Idempotency-Key": uuid.uuid4().hex}
    # valid JSON, but a database constraint refuses it inside `produce`
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "ALTER TABLE identity.persons ADD CONSTRAINT ck_arch_test_no_boom "
                "CHECK (display_name <> 'boom-arch') NOT VALID"
            )
        )
    try:
        failed = await client.post(
            PERSONS, json={"kind": "individual", "display_name": "boom-arch"}, headers=headers
        )
        assert failed.status_code == 409, failed.text
    finally:
        async with runtime.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE identity.persons DROP CONSTRAINT ck_arch_test_no_boom"))
    async with runtime.engine.connect() as conn:
        stored = await conn.execute(
            text("SELECT count(*) FROM platform.idempotency_keys WHERE key = :k"),
            {"k": headers["Idempotency-Key"]},
        )
        assert stored.scalar_one() == 0
    # the same key is free for a (different) request that succeeds
    ok = await client.post(PERSONS, json={"kind": "individual", "display_name": name}, headers=headers)
    assert ok.status_code == 201, ok.text
    assert "Idempotent-Replayed" not in ok.headers


async def test_keys_are_scoped_to_the_credential_owner(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    async with runtime.uow() as uow:
        person = await identity_api.create_person(uow, kind="individual", display_name="Second operator")
        issued = await identity_api.issue_token(
            uow, person_id=person.id, name="second-admin", scopes=[PLATFORM_ADMIN_SCOPE, "*"]
        )
    key = uuid.uuid4().hex
    name = unique_name()
    body = {"kind": "individual", "display_name": name}
    first = await client.post(PERSONS, json=body, headers={**admin_headers, "Idempotency-Key": key})
    other = await client.post(
        PERSONS, json=body, headers={"Authorization": f"Bearer {issued.token}", "Idempotency-Key": key}
    )
    assert first.status_code == other.status_code == 201, other.text
    assert "Idempotent-Replayed" not in other.headers
    assert first.json()["id"] != other.json()["id"]
    assert await persons_named(runtime, name) == 2
