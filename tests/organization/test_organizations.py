from __future__ import annotations

import httpx

from tests.organization.helpers import MakePerson, assert_problem, create_org, join, new_slug


async def test_creator_becomes_owner_member(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner = await make_person("Olga")
    org = await create_org(client, owner, kind="enterprise")
    assert org["status"] == "trial"
    assert org["kind"] == "enterprise"
    assert org["trial_ends_at"] is not None

    r = await client.get(f"/orgs/{org['id']}/members", headers=owner.headers)
    assert r.status_code == 200, r.text
    (member,) = r.json()["items"]
    assert member["person_id"] == str(owner.id)
    assert member["status"] == "active"
    assert member["roles"] == ["owner"]

    r = await client.get(f"/orgs/{org['id']}/role-assignments", headers=owner.headers)
    (assignment,) = r.json()["items"]
    assert assignment["role_key"] == "owner"
    assert assignment["scope_type"] == "organization"
    assert assignment["scope_id"] == org["id"]


async def test_get_update_and_list_mine(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner = await make_person()
    org = await create_org(client, owner)
    r = await client.get(f"/organizations/{org['id']}", headers=owner.headers)
    assert r.status_code == 200
    assert r.json()["slug"] == org["slug"]

    r = await client.patch(f"/organizations/{org['id']}", json={"name": "Acme GmbH"}, headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Acme GmbH"

    other = await create_org(client, owner)
    r = await client.get("/organizations", params={"limit": 1}, headers=owner.headers)
    assert r.status_code == 200
    first = r.json()
    assert len(first["items"]) == 1
    r = await client.get(
        "/organizations", params={"limit": 1, "cursor": first["next_cursor"]}, headers=owner.headers
    )
    ids = {first["items"][0]["id"], r.json()["items"][0]["id"]}
    assert ids == {org["id"], other["id"]}
    assert r.json()["next_cursor"] is None


async def test_slug_rules(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner = await make_person()
    for bad in ["ab", "-abc", "abc-", "Abc", "a_bc", "a" * 41]:
        r = await client.post("/organizations", json={"slug": bad, "name": "x"}, headers=owner.headers)
        assert_problem(r, 400)
    slug = new_slug()
    r = await client.post("/organizations", json={"slug": slug, "name": "x"}, headers=owner.headers)
    assert r.status_code == 201
    r = await client.post("/organizations", json={"slug": slug, "name": "y"}, headers=owner.headers)
    assert_problem(r, 409, "slug_taken")


async def test_create_is_idempotent(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner = await make_person()
    body = {"slug": new_slug(), "name": "Once"}
    headers = {**owner.headers, "Idempotency-Key": "create-once"}
    first = await client.post("/organizations", json=body, headers=headers)
    again = await client.post("/organizations", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert first.json()["id"] == again.json()["id"]


async def test_only_operators_create_for_someone_else(
    client: httpx.AsyncClient, make_person: MakePerson, admin_headers: dict[str, str]
) -> None:
    alice, bob = await make_person(), await make_person()
    body = {"slug": new_slug(), "name": "Gift", "owner_person_id": str(bob.id)}
    assert_problem(await client.post("/organizations", json=body, headers=alice.headers), 403)
    r = await client.post("/organizations", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    r = await client.get(f"/orgs/{r.json()['id']}/members", headers=bob.headers)
    assert [m["person_id"] for m in r.json()["items"]] == [str(bob.id)]


async def test_lifecycle_transitions(
    client: httpx.AsyncClient, make_person: MakePerson, admin_headers: dict[str, str]
) -> None:
    owner = await make_person()
    org = await create_org(client, owner)
    url = f"/organizations/{org['id']}/status"
    # lifecycle belongs to platform operators, not to owners
    assert_problem(await client.post(url, json={"status": "active"}, headers=owner.headers), 403)
    for status in ["active", "frozen", "active", "frozen", "archived"]:
        r = await client.post(url, json={"status": status, "reason": "test"}, headers=admin_headers)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == status
    r = await client.post(url, json={"status": "archived"}, headers=admin_headers)
    assert r.status_code == 200  # asking for the current status is a no-op
    assert_problem(
        await client.post(url, json={"status": "active"}, headers=admin_headers), 409, "invalid_transition"
    )
    assert_problem(await client.post(url, json={"status": "deleted"}, headers=admin_headers), 400)


async def test_frozen_org_refuses_writes_but_serves_reads(
    client: httpx.AsyncClient, make_person: MakePerson, admin_headers: dict[str, str]
) -> None:
    owner, member = await make_person(), await make_person()
    org = await create_org(client, owner)
    org_id = org["id"]
    await join(client, org_id, owner, member)
    r = await client.post(f"/organizations/{org_id}/status", json={"status": "frozen"}, headers=admin_headers)
    assert r.status_code == 200

    writes = [
        ("PATCH", f"/organizations/{org_id}", {"name": "New"}),
        ("POST", f"/orgs/{org_id}/workspaces", {"slug": "ws", "name": "WS"}),
        ("POST", f"/orgs/{org_id}/service-accounts", {"name": "bot"}),
        ("POST", f"/orgs/{org_id}/members/{member.id}/suspend", None),
        ("DELETE", f"/orgs/{org_id}/members/{member.id}", None),
        ("POST", f"/orgs/{org_id}/roles", {"key": "x_role", "name": "X", "permissions": []}),
    ]
    for method, url, body in writes:
        r = await client.request(method, url, json=body, headers=owner.headers)
        problem = assert_problem(r, 409, "organization_frozen")
        assert "read-only" in problem["title"]
    for url in [f"/organizations/{org_id}", f"/orgs/{org_id}/members", f"/orgs/{org_id}/workspaces"]:
        assert (await client.get(url, headers=owner.headers)).status_code == 200
    # lifting the freeze restores writes
    await client.post(f"/organizations/{org_id}/status", json={"status": "active"}, headers=admin_headers)
    r = await client.patch(f"/organizations/{org_id}", json={"name": "New"}, headers=owner.headers)
    assert r.status_code == 200


async def test_strangers_see_nothing(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner, stranger = await make_person(), await make_person()
    org = await create_org(client, owner)
    assert_problem(await client.get(f"/organizations/{org['id']}", headers=stranger.headers), 404)
    r = await client.get("/organizations", headers=stranger.headers)
    assert org["id"] not in {o["id"] for o in r.json()["items"]}


async def test_viewer_reads_but_cannot_write(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner, viewer = await make_person(), await make_person()
    org = await create_org(client, owner)
    await join(client, org["id"], owner, viewer, "viewer")
    assert (await client.get(f"/organizations/{org['id']}", headers=viewer.headers)).status_code == 200
    r = await client.patch(f"/organizations/{org['id']}", json={"name": "Mine"}, headers=viewer.headers)
    assert_problem(r, 403, "permission_denied")
