from __future__ import annotations

import httpx

from tests.organization.helpers import MakePerson, assert_problem, create_org, join, role_id

SYSTEM_KEYS = {"operator", "owner", "admin", "billing_admin", "member", "viewer"}


async def test_system_roles_are_listed_and_read_only(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    owner = await make_person()
    org = await create_org(client, owner)
    r = await client.get(f"/orgs/{org['id']}/roles", headers=owner.headers)
    roles = {role["key"]: role for role in r.json()["items"]}
    assert set(roles) == SYSTEM_KEYS
    assert all(role["is_system"] and role["org_id"] is None for role in roles.values())
    assert roles["operator"]["permissions"] == ["*"]
    owner_role = roles["owner"]["id"]
    r = await client.patch(
        f"/orgs/{org['id']}/roles/{owner_role}", json={"name": "Boss"}, headers=owner.headers
    )
    assert_problem(r, 409, "system_role_read_only")
    assert_problem(await client.delete(f"/orgs/{org['id']}/roles/{owner_role}", headers=owner.headers), 409)


async def test_custom_role_crud(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner = await make_person()
    org = await create_org(client, owner)
    url = f"/orgs/{org['id']}/roles"
    body = {
        "key": "auditor",
        "name": "Auditor",
        "permissions": ["audit.logs:read", "organization.members:read"],
    }
    r = await client.post(url, json=body, headers=owner.headers)
    assert r.status_code == 201, r.text
    role = r.json()
    assert role["is_system"] is False
    assert role["org_id"] == org["id"]
    assert_problem(await client.post(url, json=body, headers=owner.headers), 409, "role_key_taken")
    r = await client.post(url, json={**body, "key": "owner"}, headers=owner.headers)
    assert_problem(r, 409, "role_key_taken")

    r = await client.patch(
        f"{url}/{role['id']}", json={"permissions": ["audit.*:read"]}, headers=owner.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["permissions"] == ["audit.*:read"]
    r = await client.patch(
        f"{url}/{role['id']}", json={"permissions": ["not a permission"]}, headers=owner.headers
    )
    assert_problem(r, 400)

    # another organization neither sees nor touches it
    other_owner = await make_person()
    other = await create_org(client, other_owner)
    r = await client.get(f"/orgs/{other['id']}/roles/{role['id']}", headers=other_owner.headers)
    assert_problem(r, 404, "role_not_found")

    assert (await client.delete(f"{url}/{role['id']}", headers=owner.headers)).status_code == 204
    assert_problem(await client.get(f"{url}/{role['id']}", headers=owner.headers), 404)


async def test_custom_role_cannot_exceed_its_creator(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    owner, admin = await make_person(), await make_person()
    org = await create_org(client, owner)
    await join(client, org["id"], owner, admin, "admin")
    url = f"/orgs/{org['id']}/roles"
    for permissions in (["*"], ["billing.invoices:create"], ["organization.organizations:set_status"]):
        r = await client.post(
            url, json={"key": "sneaky", "name": "S", "permissions": permissions}, headers=admin.headers
        )
        assert_problem(r, 403, "privilege_escalation")
    r = await client.post(
        url, json={"key": "helper", "name": "H", "permissions": ["billing.*:read"]}, headers=admin.headers
    )
    assert r.status_code == 201, r.text


async def test_role_in_pending_invitation_cannot_be_deleted(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    owner = await make_person()
    org = await create_org(client, owner)
    r = await client.post(
        f"/orgs/{org['id']}/roles",
        json={"key": "temp", "name": "T", "permissions": []},
        headers=owner.headers,
    )
    rid = r.json()["id"]
    r = await client.post(
        f"/orgs/{org['id']}/invitations",
        json={"email": "x@example.test", "role_id": rid},
        headers=owner.headers,
    )
    assert r.status_code == 201
    assert_problem(
        await client.delete(f"/orgs/{org['id']}/roles/{rid}", headers=owner.headers), 409, "role_in_use"
    )
    await client.post(
        f"/orgs/{org['id']}/invitations/{r.json()['invitation']['id']}/revoke", headers=owner.headers
    )
    assert (await client.delete(f"/orgs/{org['id']}/roles/{rid}", headers=owner.headers)).status_code == 204


async def test_workspace_scope_assignment(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner, dev = await make_person(), await make_person()
    org = await create_org(client, owner)
    org_id = org["id"]
    await join(client, org_id, owner, dev, "viewer")
    ws1 = (
        await client.post(
            f"/orgs/{org_id}/workspaces", json={"slug": "one", "name": "1"}, headers=owner.headers
        )
    ).json()
    ws2 = (
        await client.post(
            f"/orgs/{org_id}/workspaces", json={"slug": "two", "name": "2"}, headers=owner.headers
        )
    ).json()
    r = await client.post(
        f"/orgs/{org_id}/roles",
        json={"key": "ws_editor", "name": "Editor", "permissions": ["organization.workspaces:update"]},
        headers=owner.headers,
    )
    editor = r.json()["id"]
    r = await client.post(
        f"/orgs/{org_id}/role-assignments",
        json={
            "principal_type": "person",
            "principal_id": str(dev.id),
            "role_id": editor,
            "scope_type": "workspace",
            "scope_id": ws1["id"],
        },
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    assignment = r.json()
    assert assignment["scope_type"] == "workspace"
    r = await client.patch(
        f"/orgs/{org_id}/workspaces/{ws1['id']}", json={"name": "One"}, headers=dev.headers
    )
    assert r.status_code == 200, r.text
    r = await client.patch(
        f"/orgs/{org_id}/workspaces/{ws2['id']}", json={"name": "Two"}, headers=dev.headers
    )
    assert_problem(r, 403, "permission_denied")
    # the same role, assigned twice at the same scope, is refused
    r = await client.post(
        f"/orgs/{org_id}/role-assignments",
        json={
            "principal_type": "person",
            "principal_id": str(dev.id),
            "role_id": editor,
            "scope_type": "workspace",
            "scope_id": ws1["id"],
        },
        headers=owner.headers,
    )
    assert_problem(r, 409, "assignment_exists")
    assert (
        await client.delete(f"/orgs/{org_id}/role-assignments/{assignment['id']}", headers=owner.headers)
    ).status_code == 204
    r = await client.patch(
        f"/orgs/{org_id}/workspaces/{ws1['id']}", json={"name": "Uno"}, headers=dev.headers
    )
    assert_problem(r, 403)


async def test_assignment_validation(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner, stranger = await make_person(), await make_person()
    org = await create_org(client, owner)
    org_id = org["id"]
    member = await role_id(client, org_id, owner.headers, "member")
    operator = await role_id(client, org_id, owner.headers, "operator")
    url = f"/orgs/{org_id}/role-assignments"
    r = await client.post(
        url,
        json={"principal_type": "person", "principal_id": str(stranger.id), "role_id": member},
        headers=owner.headers,
    )
    assert_problem(r, 422, "not_a_member")
    r = await client.post(
        url,
        json={"principal_type": "person", "principal_id": str(owner.id), "role_id": operator},
        headers=owner.headers,
    )
    assert_problem(r, 422, "role_not_assignable")
    r = await client.post(
        url,
        json={
            "principal_type": "person",
            "principal_id": str(owner.id),
            "role_id": member,
            "scope_type": "workspace",
        },
        headers=owner.headers,
    )
    assert_problem(r, 422, "invalid_scope")


async def test_authz_check(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner, viewer, stranger = await make_person(), await make_person(), await make_person()
    org = await create_org(client, owner)
    org_id = org["id"]
    await join(client, org_id, owner, viewer, "viewer")
    url = f"/orgs/{org_id}/authz/check"

    async def check(person_id: object, permission: str) -> dict[str, object]:
        body = {"principal_type": "person", "principal_id": str(person_id), "permission": permission}
        r = await client.post(url, json=body, headers=owner.headers)
        assert r.status_code == 200, r.text
        result: dict[str, object] = r.json()
        return result

    assert await check(owner.id, "billing.invoices:create") == {
        "allowed": True,
        "reason": "granted by role owner at organization scope",
    }
    assert await check(viewer.id, "organization.workspaces:read") == {
        "allowed": True,
        "reason": "granted by role viewer at organization scope",
    }
    assert await check(viewer.id, "organization.workspaces:create") == {
        "allowed": False,
        "reason": "not_granted",
    }
    assert await check(stranger.id, "organization.workspaces:read") == {
        "allowed": False,
        "reason": "no_standing",
    }
    # a viewer may not ask
    r = await client.post(
        url,
        json={
            "principal_type": "person",
            "principal_id": str(owner.id),
            "permission": "organization.members:read",
        },
        headers=viewer.headers,
    )
    assert_problem(r, 403)
    r = await client.post(
        url,
        json={"principal_type": "person", "principal_id": str(owner.id), "permission": "billing.*:*"},
        headers=owner.headers,
    )
    assert_problem(r, 400)
