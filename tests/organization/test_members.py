from __future__ import annotations

import asyncio

import httpx

from tests.organization.helpers import MakePerson, assert_problem, create_org, join, role_id


async def test_suspend_reactivate_remove(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner, member = await make_person(), await make_person()
    org = await create_org(client, owner)
    org_id = org["id"]
    await join(client, org_id, owner, member)
    base = f"/orgs/{org_id}/members/{member.id}"

    r = await client.post(f"{base}/suspend", headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "suspended"
    # a suspended member keeps standing (403, not 404) but loses every right
    assert_problem(await client.get(f"/organizations/{org_id}", headers=member.headers), 403)

    r = await client.post(f"{base}/reactivate", headers=owner.headers)
    assert r.json()["status"] == "active"
    assert (await client.get(f"/organizations/{org_id}", headers=member.headers)).status_code == 200

    r = await client.get(f"/orgs/{org_id}/members", params={"status": "active"}, headers=owner.headers)
    assert {m["person_id"] for m in r.json()["items"]} == {str(owner.id), str(member.id)}

    assert (await client.delete(base, headers=owner.headers)).status_code == 204
    assert_problem(await client.get(f"/organizations/{org_id}", headers=member.headers), 404)
    r = await client.get(base, headers=owner.headers)
    assert r.json()["status"] == "removed"
    assert r.json()["roles"] == []  # assignments withdrawn with the membership
    assert_problem(await client.delete(base, headers=owner.headers), 404, "member_not_found")


async def test_last_owner_cannot_leave(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner = await make_person()
    org = await create_org(client, owner)
    org_id = org["id"]
    base = f"/orgs/{org_id}/members/{owner.id}"
    assert_problem(await client.delete(base, headers=owner.headers), 409, "last_owner")
    assert_problem(await client.post(f"{base}/suspend", headers=owner.headers), 409, "last_owner")
    r = await client.get(
        f"/orgs/{org_id}/role-assignments", params={"principal_id": str(owner.id)}, headers=owner.headers
    )
    (assignment,) = r.json()["items"]
    r = await client.delete(f"/orgs/{org_id}/role-assignments/{assignment['id']}", headers=owner.headers)
    assert_problem(r, 409, "last_owner")

    # with a second owner, the first may go
    second = await make_person()
    await join(client, org_id, owner, second, "owner")
    assert (await client.delete(base, headers=owner.headers)).status_code == 204
    r = await client.get(f"/orgs/{org_id}/members", params={"status": "active"}, headers=second.headers)
    assert [m["roles"] for m in r.json()["items"]] == [["owner"]]


async def test_suspended_owner_does_not_count(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    first, second = await make_person(), await make_person()
    org = await create_org(client, first)
    org_id = org["id"]
    await join(client, org_id, first, second, "owner")
    r = await client.post(f"/orgs/{org_id}/members/{second.id}/suspend", headers=first.headers)
    assert r.status_code == 200
    assert_problem(
        await client.delete(f"/orgs/{org_id}/members/{first.id}", headers=first.headers), 409, "last_owner"
    )


async def test_concurrent_owner_removals_keep_one_owner(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    for _ in range(5):
        first, second = await make_person(), await make_person()
        org = await create_org(client, first)
        org_id = org["id"]
        await join(client, org_id, first, second, "owner")
        # each owner removes the other at the same moment
        results = await asyncio.gather(
            client.delete(f"/orgs/{org_id}/members/{second.id}", headers=first.headers),
            client.delete(f"/orgs/{org_id}/members/{first.id}", headers=second.headers),
        )
        codes = sorted(r.status_code for r in results)
        # the loser is refused as the last owner (409) or, having just been removed itself,
        # as someone without the owner's rights (403) or without standing at all (404)
        assert codes[0] == 204, [r.text for r in results]
        assert codes[1] in (403, 404, 409), [r.text for r in results]
        survivor = first if results[0].status_code == 204 else second
        r = await client.get(f"/orgs/{org_id}/members", params={"status": "active"}, headers=survivor.headers)
        assert [(m["person_id"], m["roles"]) for m in r.json()["items"]] == [(str(survivor.id), ["owner"])]


async def test_concurrent_removal_of_both_owners_by_a_third(
    client: httpx.AsyncClient, make_person: MakePerson, admin_headers: dict[str, str]
) -> None:
    first, second = await make_person(), await make_person()
    org = await create_org(client, first)
    org_id = org["id"]
    await join(client, org_id, first, second, "owner")
    results = await asyncio.gather(
        client.delete(f"/orgs/{org_id}/members/{first.id}", headers=admin_headers),
        client.delete(f"/orgs/{org_id}/members/{second.id}", headers=admin_headers),
    )
    assert sorted(r.status_code for r in results) == [204, 409], [r.text for r in results]
    r = await client.get(f"/orgs/{org_id}/members", params={"status": "active"}, headers=admin_headers)
    assert len(r.json()["items"]) == 1
    assert r.json()["items"][0]["roles"] == ["owner"]


async def test_admin_cannot_touch_owner(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner, admin, member = await make_person(), await make_person(), await make_person()
    org = await create_org(client, owner)
    org_id = org["id"]
    await join(client, org_id, owner, admin, "admin")
    await join(client, org_id, admin, member, "member")  # admins invite members
    assert_problem(
        await client.delete(f"/orgs/{org_id}/members/{owner.id}", headers=admin.headers),
        403,
        "privilege_escalation",
    )
    owner_role = await role_id(client, org_id, owner.headers, "owner")
    r = await client.post(
        f"/orgs/{org_id}/role-assignments",
        json={"principal_type": "person", "principal_id": str(admin.id), "role_id": owner_role},
        headers=admin.headers,
    )
    assert_problem(r, 403, "privilege_escalation")
    assert (
        await client.post(f"/orgs/{org_id}/members/{member.id}/suspend", headers=admin.headers)
    ).status_code == 200


async def test_persons_of_the_org(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner, member, gone = await make_person("Owner"), await make_person("Member"), await make_person("Gone")
    org = await create_org(client, owner)
    org_id = org["id"]
    await join(client, org_id, owner, member)
    await join(client, org_id, owner, gone)
    await client.delete(f"/orgs/{org_id}/members/{gone.id}", headers=owner.headers)
    r = await client.get(f"/orgs/{org_id}/persons", params={"limit": 1}, headers=owner.headers)
    assert r.status_code == 200, r.text
    page = r.json()
    r = await client.get(
        f"/orgs/{org_id}/persons", params={"cursor": page["next_cursor"]}, headers=owner.headers
    )
    names = [p["display_name"] for p in page["items"] + r.json()["items"]]
    assert names == ["Owner", "Member"]
