"""Person merges: refused onto itself or a merged person, keep the source row, re-point
tokens and users, and publish `identity.person.merged` to subscribers inside the transaction."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import msgspec
from sqlalchemy import text

from modules.composition import build_runtime
from modules.identity import api as identity_api
from modules.identity.contracts import PERSON_MERGED, PersonMerged
from platform_core.core.config import Settings
from platform_core.messaging.events import Event
from platform_core.messaging.uow import Subscription, UnitOfWork
from platform_core.persistence.db import asyncpg_dsn
from platform_core.runtime.runtime import Runtime
from tests.identity.conftest import Signer, assert_problem, bearer, client_for, make_person


async def merge(
    api: httpx.AsyncClient, headers: dict[str, str], source: uuid.UUID, target: uuid.UUID
) -> httpx.Response:
    return await api.post(
        f"/identity/persons/{source}/merge",
        json={"target_person_id": str(target), "reason": "duplicate signup"},
        headers=headers,
    )


async def test_merge_keeps_the_source_and_repoints_tokens_and_users(
    api: httpx.AsyncClient, oidc_runtime: Runtime, admin_headers: dict[str, str], signer: Signer, db_url: str
) -> None:
    sub = str(uuid.uuid4())
    source = uuid.UUID((await api.get("/identity/me", headers=bearer(signer.token(sub)))).json()["id"])
    async with oidc_runtime.uow() as uow:
        source_pat = (await identity_api.issue_token(uow, person_id=source, name="old", scopes=["*"])).token
    target, target_token = await make_person(oidc_runtime, "Keeper")

    r = await merge(api, admin_headers, source, target)
    assert r.status_code == 201, r.text
    record = r.json()
    assert (record["source_person_id"], record["target_person_id"]) == (str(source), str(target))
    assert record["merged_by"].startswith("person:")

    kept = (await api.get(f"/identity/persons/{source}", headers=admin_headers)).json()
    assert kept["merged_into_id"] == str(target), "the source row stays, pointing at the target"
    assert (await api.get("/identity/me", headers=bearer(source_pat))).json()["id"] == str(target)
    assert (await api.get("/identity/me", headers=bearer(signer.token(sub)))).json()["id"] == str(target)
    mine = (await api.get("/identity/me/tokens", headers=bearer(target_token))).json()["items"]
    assert "old" in {t["name"] for t in mine}

    conn = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        row = await conn.fetchrow("SELECT * FROM identity.person_merges WHERE source_person_id = $1", source)
    finally:
        await conn.close()
    assert row["target_person_id"] == target
    assert row["reason"] == "duplicate signup"


async def test_merges_that_make_no_sense_are_refused(
    api: httpx.AsyncClient, oidc_runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    a, _ = await make_person(oidc_runtime, "A")
    b, _ = await make_person(oidc_runtime, "B")
    c, _ = await make_person(oidc_runtime, "C")
    assert_problem(await merge(api, admin_headers, a, a), 422, "merge_into_self")
    assert_problem(await merge(api, admin_headers, a, uuid.uuid4()), 422, "merge_target_not_found")
    assert_problem(await merge(api, admin_headers, uuid.uuid4(), a), 404, "person_not_found")
    assert (await merge(api, admin_headers, a, b)).status_code == 201
    assert_problem(await merge(api, admin_headers, c, a), 409, "merge_target_merged")
    assert_problem(await merge(api, admin_headers, a, c), 409, "person_merged")
    assert_problem(
        await api.patch(f"/identity/persons/{a}", json={"display_name": "Z"}, headers=admin_headers),
        409,
        "person_merged",
    )
    for body in ({"target_person_id": "nope", "reason": "x"}, {"target_person_id": str(b)}, {"reason": "x"}):
        assert_problem(await api.post(f"/identity/persons/{c}/merge", json=body, headers=admin_headers), 400)


async def test_earlier_merges_follow_the_source_to_its_new_target(
    api: httpx.AsyncClient, oidc_runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    a, _ = await make_person(oidc_runtime, "A")
    b, _ = await make_person(oidc_runtime, "B")
    c, _ = await make_person(oidc_runtime, "C")
    assert (await merge(api, admin_headers, a, b)).status_code == 201
    assert (await merge(api, admin_headers, b, c)).status_code == 201
    assert (await api.get(f"/identity/persons/{a}", headers=admin_headers)).json()["merged_into_id"] == str(c)


async def test_concurrent_merges_of_one_source_record_one(
    api: httpx.AsyncClient, oidc_runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    source, _ = await make_person(oidc_runtime, "Dup")
    targets = [(await make_person(oidc_runtime, f"T{i}"))[0] for i in range(4)]
    responses = await asyncio.gather(*(merge(api, admin_headers, source, t) for t in targets))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]


async def test_subscribers_see_the_merge_inside_its_transaction(
    oidc_settings: Settings, admin_token: str
) -> None:
    seen: list[tuple[PersonMerged, uuid.UUID | None]] = []

    async def on_merged(uow: UnitOfWork, event: Event) -> None:
        merged = msgspec.convert(event.data, PersonMerged)
        current = await uow.session.scalar(
            text("SELECT merged_into_id FROM identity.persons WHERE id = :id"),
            {"id": merged.source_person_id},
        )
        seen.append((merged, current))

    runtime = build_runtime(oidc_settings)  # its own bus, so the subscriber leaves with it
    runtime.registry.bus.subscribe(Subscription(PERSON_MERGED, on_merged))
    try:
        async with client_for(runtime) as api:
            source, _ = await make_person(runtime, "S")
            target, _ = await make_person(runtime, "T")
            assert (await merge(api, bearer(admin_token), source, target)).status_code == 201
    finally:
        await runtime.dispose()
    assert seen == [(PersonMerged(source_person_id=source, target_person_id=target), target)]
