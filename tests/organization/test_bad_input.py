from __future__ import annotations

import httpx

from tests.organization.helpers import MakePerson, assert_problem, create_org


async def test_bad_input_is_a_problem_never_a_crash(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    owner = await make_person()
    org = await create_org(client, owner)
    org_id = org["id"]
    h = owner.headers
    cases: list[tuple[str, str, object, int]] = [
        # malformed UUIDs in paths, queries and bodies
        ("GET", "/organizations/not-a-uuid", None, 400),
        ("GET", f"/orgs/{org_id}/members/123", None, 400),
        ("DELETE", f"/orgs/{org_id[:-1]}/workspaces/{org_id}", None, 400),
        ("GET", f"/orgs/{org_id}/role-assignments?principal_id=nope", None, 400),
        (
            "POST",
            f"/orgs/{org_id}/role-assignments",
            {"principal_type": "person", "principal_id": "x", "role_id": "y"},
            400,
        ),
        # oversize strings
        ("POST", "/organizations", {"slug": "ok-slug-xyz", "name": "n" * 201}, 400),
        ("POST", f"/orgs/{org_id}/workspaces", {"slug": "w" * 41, "name": "w"}, 400),
        ("POST", f"/orgs/{org_id}/service-accounts", {"name": "s", "description": "d" * 2001}, 400),
        ("POST", "/invitations/accept", {"token": "t" * 201}, 400),
        # unknown fields
        ("POST", "/organizations", {"slug": "ok-slug-xyz", "name": "n", "status": "active"}, 400),
        ("PATCH", f"/organizations/{org_id}", {"slug": "new-slug"}, 400),
        ("POST", f"/orgs/{org_id}/workspaces", {"slug": "ws", "name": "w", "owner": "me"}, 400),
        # wrong types
        ("POST", "/organizations", {"slug": 42, "name": "n"}, 400),
        ("POST", "/organizations", {"slug": "ok-slug-xyz", "name": "n", "kind": "galaxy"}, 400),
        (
            "POST",
            f"/orgs/{org_id}/service-accounts/{org_id}/keys",
            {"name": "k", "rate_limit_per_min": "lots"},
            400,
        ),
        (
            "POST",
            f"/orgs/{org_id}/service-accounts/{org_id}/keys",
            {"name": "k", "rate_limit_per_min": 0},
            400,
        ),
        ("POST", f"/orgs/{org_id}/invitations", {"email": "not-an-email", "role_id": org_id}, 400),
        (
            "POST",
            f"/orgs/{org_id}/invitations",
            {"email": "a@b.co", "role_id": org_id, "expires_in_days": 365},
            400,
        ),
        ("POST", f"/orgs/{org_id}/roles", {"key": "Bad Key", "name": "n", "permissions": []}, 400),
        ("POST", f"/orgs/{org_id}/roles", {"key": "ok_key", "name": "n", "permissions": "billing.*:*"}, 400),
        ("GET", f"/orgs/{org_id}/members?limit=0", None, 400),
        ("GET", f"/orgs/{org_id}/members?limit=abc", None, 400),
        ("GET", f"/orgs/{org_id}/members?status=zombie", None, 400),
        # not JSON at all
        ("POST", "/organizations", b"{not json", 400),
        # semantically wrong
        ("POST", f"/orgs/{org_id}/invitations", {"email": "a@b.co", "role_id": org_id}, 404),
        ("POST", f"/orgs/{org_id}/service-accounts/{org_id}/keys", {"name": "k"}, 404),
    ]
    for method, url, body, status in cases:
        if isinstance(body, bytes):
            r = await client.request(
                method, url, content=body, headers={**h, "Content-Type": "application/json"}
            )
        else:
            r = await client.request(method, url, json=body, headers=h)
        problem = assert_problem(r, status)
        assert problem["status"] == status, (method, url, problem)
    # nothing above changed the organization
    r = await client.get(f"/organizations/{org_id}", headers=h)
    assert r.json()["name"] == "Acme"
    assert (await client.get(f"/orgs/{org_id}/workspaces", headers=h)).json()["items"] == []
    assert (await client.get(f"/orgs/{org_id}/service-accounts", headers=h)).json()["items"] == []


async def test_unknown_field_is_named(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner = await make_person()
    r = await client.post(
        "/organizations", json={"slug": "named-field", "name": "n", "extra": 1}, headers=owner.headers
    )
    problem = assert_problem(r, 400, "invalid_request")
    assert any(e["field"] == "extra" for e in problem["errors"]), problem
