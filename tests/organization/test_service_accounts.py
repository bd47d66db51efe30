from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text

from platform_core.runtime.runtime import Runtime
from tests.organization.helpers import MakePerson, Person, assert_problem, create_org, role_id


async def _account_with_key(
    client: httpx.AsyncClient, org_id: str, owner: Person, role_key: str | None = "admin", **key: object
) -> tuple[dict, dict]:
    r = await client.post(
        f"/orgs/{org_id}/service-accounts",
        json={"name": f"bot-{uuid.uuid4().hex[:6]}"},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    account = r.json()
    if role_key:
        rid = await role_id(client, org_id, owner.headers, role_key)
        r = await client.post(
            f"/orgs/{org_id}/role-assignments",
            json={"principal_type": "service_account", "principal_id": account["id"], "role_id": rid},
            headers=owner.headers,
        )
        assert r.status_code == 201, r.text
    r = await client.post(
        f"/orgs/{org_id}/service-accounts/{account['id']}/keys",
        json={"name": "ci", **key},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    return account, r.json()


def bearer(issued: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {issued['token']}"}


async def test_account_crud(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner = await make_person()
    org = await create_org(client, owner)
    url = f"/orgs/{org['id']}/service-accounts"
    r = await client.post(url, json={"name": "deployer", "description": "CI"}, headers=owner.headers)
    assert r.status_code == 201, r.text
    account = r.json()
    assert_problem(
        await client.post(url, json={"name": "deployer"}, headers=owner.headers), 409, "name_taken"
    )
    r = await client.patch(
        f"{url}/{account['id']}", json={"description": "CD", "disabled": True}, headers=owner.headers
    )
    assert r.json()["description"] == "CD"
    assert r.json()["disabled_at"] is not None
    r = await client.get(url, headers=owner.headers)
    assert [a["name"] for a in r.json()["items"]] == ["deployer"]
    assert (await client.delete(f"{url}/{account['id']}", headers=owner.headers)).status_code == 204
    assert_problem(await client.get(f"{url}/{account['id']}", headers=owner.headers), 404)


async def test_key_is_shown_once_and_authenticates(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    owner = await make_person()
    org = await create_org(client, owner)
    account, issued = await _account_with_key(client, org["id"], owner, scopes=["organization.*:*"])
    assert issued["token"].startswith("keel_sak_")
    assert issued["key"]["prefix"] == issued["token"][:13]
    r = await client.get(f"/orgs/{org['id']}/service-accounts/{account['id']}/keys", headers=owner.headers)
    (listed,) = r.json()["items"]
    assert "token" not in listed
    assert issued["token"] not in r.text

    r = await client.get(f"/organizations/{org['id']}", headers=bearer(issued))
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/orgs/{org['id']}/workspaces", json={"slug": "by-bot", "name": "B"}, headers=bearer(issued)
    )
    assert r.status_code == 201, r.text
    # the key's scopes narrow what the admin role allows
    r = await client.get(f"/audit/logs?org_id={org['id']}", headers=bearer(issued))
    assert_problem(r, 403, "insufficient_scope")


async def test_service_account_acts_only_in_its_org(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    owner = await make_person()
    home, elsewhere = await create_org(client, owner), await create_org(client, owner)
    _, issued = await _account_with_key(client, home["id"], owner)
    assert_problem(await client.get(f"/organizations/{elsewhere['id']}", headers=bearer(issued)), 404)
    assert_problem(await client.get(f"/orgs/{elsewhere['id']}/members", headers=bearer(issued)), 404)
    # service accounts cannot create organizations or accept invitations (no person)
    r = await client.post("/organizations", json={"slug": "bot-org-x", "name": "x"}, headers=bearer(issued))
    assert_problem(r, 403)


async def test_service_account_without_role_is_forbidden(
    client: httpx.AsyncClient, make_person: MakePerson
) -> None:
    owner = await make_person()
    org = await create_org(client, owner)
    _, issued = await _account_with_key(client, org["id"], owner, role_key=None)
    assert_problem(
        await client.get(f"/organizations/{org['id']}", headers=bearer(issued)), 403, "permission_denied"
    )


async def test_revocation_expiry_and_disabling(
    client: httpx.AsyncClient, make_person: MakePerson, runtime: Runtime
) -> None:
    owner = await make_person()
    org = await create_org(client, owner)
    account, issued = await _account_with_key(client, org["id"], owner)
    url = f"/organizations/{org['id']}"
    assert (await client.get(url, headers=bearer(issued))).status_code == 200
    keys_url = f"/orgs/{org['id']}/service-accounts/{account['id']}/keys"
    assert (
        await client.delete(f"{keys_url}/{issued['key']['id']}", headers=owner.headers)
    ).status_code == 204
    assert_problem(await client.get(url, headers=bearer(issued)), 401, "invalid_credential")

    r = await client.post(keys_url, json={"name": "second"}, headers=owner.headers)
    second = r.json()
    assert (await client.get(url, headers=bearer(second))).status_code == 200
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE organization.service_account_keys"
                " SET expires_at = now() - interval '1 second' WHERE id = :id"
            ),
            {"id": second["key"]["id"]},
        )
    runtime.caches.clear()  # out-of-band SQL is not announced to the hot caches
    assert_problem(await client.get(url, headers=bearer(second)), 401)

    r = await client.post(keys_url, json={"name": "third"}, headers=owner.headers)
    third = r.json()
    await client.patch(
        f"/orgs/{org['id']}/service-accounts/{account['id']}", json={"disabled": True}, headers=owner.headers
    )
    assert_problem(await client.get(url, headers=bearer(third)), 401)

    r = await client.post(
        keys_url, json={"name": "past", "expires_at": "2000-01-01T00:00:00Z"}, headers=owner.headers
    )
    assert_problem(r, 422, "invalid_expiry")
    # malformed keys (bad checksum, truncated) are refused without a lookup, never with 500
    for token in [third["token"][:-1], "keel_sak_", "keel_sak_" + "x" * 46]:
        assert_problem(await client.get(url, headers={"Authorization": f"Bearer {token}"}), 401)


async def test_allowed_ips_and_origins(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner = await make_person()
    org = await create_org(client, owner)
    url = f"/organizations/{org['id']}"
    # the test client connects from 127.0.0.1
    _, outside = await _account_with_key(
        client, org["id"], owner, allowed_ips=["10.0.0.0/8", "2001:db8::/32"]
    )
    assert_problem(await client.get(url, headers=bearer(outside)), 403, "ip_not_allowed")
    _, inside = await _account_with_key(
        client, org["id"], owner, allowed_ips=["127.0.0.0/8"], allowed_origins=["https://app.example.com"]
    )
    assert inside["key"]["allowed_ips"] == ["127.0.0.0/8"]
    assert (await client.get(url, headers=bearer(inside))).status_code == 200
    ok = await client.get(url, headers={**bearer(inside), "Origin": "https://APP.example.com"})
    assert ok.status_code == 200
    r = await client.get(url, headers={**bearer(inside), "Origin": "https://evil.example.com"})
    assert_problem(r, 403, "origin_not_allowed")

    keys_url = f"/orgs/{org['id']}/service-accounts/{inside['key']['service_account_id']}/keys"
    r = await client.post(
        keys_url, json={"name": "bad", "allowed_ips": ["10.0.0.1/8"]}, headers=owner.headers
    )
    assert_problem(r, 422, "invalid_allowed_ips")
    r = await client.post(keys_url, json={"name": "bad", "allowed_ips": ["not-an-ip"]}, headers=owner.headers)
    assert_problem(r, 422, "invalid_allowed_ips")
    r = await client.post(
        keys_url, json={"name": "bad", "allowed_origins": ["javascript:alert(1)"]}, headers=owner.headers
    )
    assert_problem(r, 400)


async def test_rate_limit(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner = await make_person()
    org = await create_org(client, owner)
    _, issued = await _account_with_key(client, org["id"], owner, rate_limit_per_min=3)
    url = f"/organizations/{org['id']}"
    statuses = [(await client.get(url, headers=bearer(issued))).status_code for _ in range(3)]
    r = await client.get(url, headers=bearer(issued))
    if statuses != [200, 200, 200]:  # the minute rolled over mid-test: the window restarted
        statuses = [(await client.get(url, headers=bearer(issued))).status_code for _ in range(2)]
        r = await client.get(url, headers=bearer(issued))
    assert_problem(r, 429, "rate_limited")
    assert 1 <= int(r.headers["retry-after"]) <= 60
    # other credentials are not affected
    assert (await client.get(url, headers=owner.headers)).status_code == 200


async def test_last_used_is_not_written_on_every_request(
    client: httpx.AsyncClient, make_person: MakePerson, runtime: Runtime
) -> None:
    owner = await make_person()
    org = await create_org(client, owner)
    _, issued = await _account_with_key(client, org["id"], owner)
    url = f"/organizations/{org['id']}"
    query = text(
        "SELECT last_used_at, xmin::text::bigint FROM organization.service_account_keys WHERE id = :id"
    )
    async with runtime.engine.connect() as conn:
        before = (await conn.execute(query, {"id": issued["key"]["id"]})).one()
    assert before.last_used_at is None
    await client.get(url, headers=bearer(issued))
    async with runtime.engine.connect() as conn:
        first = (await conn.execute(query, {"id": issued["key"]["id"]})).one()
    assert first.last_used_at is not None
    for _ in range(3):
        await client.get(url, headers=bearer(issued))
    async with runtime.engine.connect() as conn:
        later = (await conn.execute(query, {"id": issued["key"]["id"]})).one()
    # same row version: the later requests did not write
    assert (later.last_used_at, later.xmin) == (first.last_used_at, first.xmin)


async def test_authz_check_for_service_accounts(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner = await make_person()
    org, other = await create_org(client, owner), await create_org(client, owner)
    account, _ = await _account_with_key(client, org["id"], owner, role_key="viewer")
    foreign, _ = await _account_with_key(client, other["id"], owner, role_key="admin")

    async def check(org_id: str, principal: dict, permission: str) -> dict:
        body = {
            "principal_type": "service_account",
            "principal_id": principal["id"],
            "permission": permission,
        }
        r = await client.post(f"/orgs/{org_id}/authz/check", json=body, headers=owner.headers)
        assert r.status_code == 200, r.text
        result: dict = r.json()
        return result

    assert (await check(org["id"], account, "organization.workspaces:read"))["allowed"] is True
    assert await check(org["id"], account, "organization.workspaces:create") == {
        "allowed": False,
        "reason": "not_granted",
    }
    # an admin service account of another organization has no standing here
    assert await check(org["id"], foreign, "organization.workspaces:read") == {
        "allowed": False,
        "reason": "no_standing",
    }


async def test_frozen_org_refuses_service_account_writes(
    client: httpx.AsyncClient, make_person: MakePerson, admin_headers: dict[str, str]
) -> None:
    owner = await make_person()
    org = await create_org(client, owner)
    _, issued = await _account_with_key(client, org["id"], owner)
    await client.post(f"/organizations/{org['id']}/status", json={"status": "frozen"}, headers=admin_headers)
    r = await client.post(
        f"/orgs/{org['id']}/workspaces", json={"slug": "no", "name": "No"}, headers=bearer(issued)
    )
    assert_problem(r, 409, "organization_frozen")
    assert (await client.get(f"/orgs/{org['id']}/workspaces", headers=bearer(issued))).status_code == 200
