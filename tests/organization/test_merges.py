from __future__ import annotations

import httpx

from modules.identity.contracts import PERSON_MERGED, PersonMerged
from platform_core.messaging.events import Subject
from platform_core.runtime.runtime import Runtime
from tests.organization.helpers import MakePerson, create_org, join


async def _merge(runtime: Runtime, source: object, target: object) -> None:
    async with runtime.uow() as uow:
        await uow.emit(
            PERSON_MERGED,
            subject=Subject(type="person", id=str(source)),
            data=PersonMerged(source_person_id=source, target_person_id=target),  # type: ignore[arg-type]
        )


async def test_memberships_and_assignments_follow_the_merge(
    client: httpx.AsyncClient, make_person: MakePerson, runtime: Runtime
) -> None:
    owner, dup, keeper = await make_person(), await make_person(), await make_person()
    solo = await create_org(client, owner)  # only the duplicate belongs here
    shared = await create_org(client, owner)  # both belong here
    await join(client, solo["id"], owner, dup, "admin")
    await join(client, shared["id"], owner, dup, "viewer")
    await join(client, shared["id"], owner, keeper, "viewer")

    await _merge(runtime, dup.id, keeper.id)

    r = await client.get(f"/orgs/{solo['id']}/members/{keeper.id}", headers=owner.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["roles"]) == ("active", ["admin"])
    r = await client.get(f"/orgs/{shared['id']}/members/{keeper.id}", headers=owner.headers)
    assert r.json()["roles"] == ["viewer"]  # duplicate assignment dropped, not doubled
    for org in (solo, shared):
        r = await client.get(f"/orgs/{org['id']}/members/{dup.id}", headers=owner.headers)
        assert r.status_code == 404
        r = await client.get(
            f"/orgs/{org['id']}/role-assignments", params={"principal_id": str(dup.id)}, headers=owner.headers
        )
        assert r.json()["items"] == []


async def test_an_owner_merged_away_keeps_the_org_owned(
    client: httpx.AsyncClient, make_person: MakePerson, runtime: Runtime
) -> None:
    owner, target = await make_person(), await make_person()
    org = await create_org(client, owner)
    await _merge(runtime, owner.id, target.id)
    r = await client.get(f"/orgs/{org['id']}/members/{target.id}", headers=target.headers)
    assert r.status_code == 200, r.text
    assert r.json()["roles"] == ["owner"]


async def test_merge_through_identity_route_moves_membership(
    client: httpx.AsyncClient, make_person: MakePerson, admin_headers: dict[str, str]
) -> None:
    owner, dup, keeper = await make_person(), await make_person(), await make_person()
    org = await create_org(client, owner)
    await join(client, org["id"], owner, dup, "member")
    r = await client.post(
        f"/identity/persons/{dup.id}/merge",
        json={"target_person_id": str(keeper.id), "reason": "duplicate signup"},
        headers=admin_headers,
    )
    assert r.status_code in (200, 201), r.text
    r = await client.get(f"/orgs/{org['id']}/members/{keeper.id}", headers=owner.headers)
    assert (r.status_code, r.json()["roles"]) == (200, ["member"])
