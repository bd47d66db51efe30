"""The check API: answers, preflight, batch form, bad input, tenant isolation."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx

from platform_core.runtime.runtime import Runtime
from tests.entitlements.conftest import World, event, ok, person_headers, unique


async def test_check_answers_every_kind(world: World) -> None:
    quota = await world.key()
    flag = await world.key("boolean")
    config = await world.key("config", default_value={"tier": "basic"})
    config_override = await world.key("config", default_value={"size": "s"})
    missing_flag = await world.key("boolean")
    org, _, ws, _ = await world.setup(
        [
            {"resource_key": quota, "rule_type": "quota", "amount": 100, "reset_period": "month"},
            {"resource_key": flag, "rule_type": "boolean"},
            {"resource_key": config, "rule_type": "boolean"},
            {"resource_key": config_override, "rule_type": "boolean", "value": {"size": "xl"}},
        ],
        quantity=3,
    )
    await ok(await world.usage(org, [event(ws, quota, 120)]))
    body = await world.check(ws, quota)
    assert body["kind"] == "quota"
    assert (body["limit"], body["used"], body["remaining"], body["allowed"]) == ("300", "120", "180", True)
    assert body["reset_at"] is not None
    assert body["reason"] is None
    # preflight: a hypothetical quantity, nothing consumed
    assert (await world.check(ws, quota, quantity="180"))["allowed"] is True
    pre = await world.check(ws, quota, quantity="180.5")
    assert (pre["allowed"], pre["reason"]) == (False, "limit_exceeded")
    assert (await world.check(ws, quota))["used"] == "120"

    assert (await world.check(ws, flag))["allowed"] is True
    assert (await world.check(ws, flag))["kind"] == "boolean"
    cfg = await world.check(ws, config)
    assert (cfg["allowed"], cfg["kind"], cfg["value"]) == (True, "config", {"tier": "basic"})
    assert (await world.check(ws, config_override))["value"] == {"size": "xl"}
    off = await world.check(ws, missing_flag)
    assert (off["allowed"], off["reason"]) == (False, "not_entitled")
    unknown = await world.check(ws, "no.such.key")
    assert (unknown["allowed"], unknown["reason"]) == (False, "unknown_resource_key")


async def test_batch_check(world: World) -> None:
    key = await world.key()
    flag = await world.key("boolean")
    org, _, ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 5}])
    no_pool = await world.workspace(org)
    r = await world.client.post(
        "/entitlements/check",
        params={"org_id": org},
        json={
            "checks": [
                {"workspace": ws, "key": key},
                {"workspace": ws, "key": key, "quantity": "6"},
                {"workspace": ws, "key": flag},
                {"workspace": no_pool, "key": key},
            ]
        },
        headers=world.headers,
    )
    results = (await ok(r))["results"]
    assert [(x["allowed"], x["reason"]) for x in results] == [
        (True, None),
        (False, "limit_exceeded"),
        (False, "not_entitled"),
        (False, "workspace_without_pool"),
    ]


async def test_bad_check_input_is_400(world: World) -> None:
    key = await world.key()
    _, _, ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 5}])
    for params in (
        {"workspace": "nope", "key": key},
        {"key": key},
        {"workspace": ws},
        {"workspace": ws, "key": key, "quantity": "-1"},
        {"workspace": ws, "key": key, "quantity": "abc"},
        {"workspace": ws, "key": key, "quantity": "Infinity"},
    ):
        r = await world.client.get("/entitlements/check", params=params, headers=world.headers)
        assert r.status_code == 400, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await world.client.post("/entitlements/check", json={"checks": []}, headers=world.headers)
    assert r.status_code == 400
    r = await world.client.get(
        "/entitlements/check", params={"workspace": str(uuid.uuid4()), "key": key}, headers=world.headers
    )
    assert r.status_code == 404


async def test_another_organizations_workspace_is_404(
    world: World, runtime: Runtime, client: httpx.AsyncClient
) -> None:
    key = await world.key()
    org_a, pool_a, ws_a, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 5}])
    # a person who owns organization B (created with their own token) and nothing else
    bob = await person_headers(runtime, "Bob")
    r = await client.post("/organizations", json={"slug": unique("bob"), "name": "Bob Org"}, headers=bob)
    org_b = (await ok(r, 201))["id"]
    r = await client.post(f"/orgs/{org_b}/workspaces", json={"slug": unique("bws"), "name": "B"}, headers=bob)
    ws_b = (await ok(r, 201))["id"]
    r = await client.post(f"/entitlements/orgs/{org_b}/pools", json={"name": "b"}, headers=bob)
    pool_b = (await ok(r, 201))["id"]

    # Bob's own workspace is his to check (it has no pool yet)
    r = await client.get(
        "/entitlements/check", params={"workspace": ws_b, "key": key, "org_id": org_b}, headers=bob
    )
    assert (await ok(r))["reason"] == "workspace_without_pool"
    # organization A's workspace, pool, usage and trail are invisible to him
    assert (
        await client.get("/entitlements/check", params={"workspace": ws_a, "key": key}, headers=bob)
    ).status_code == 404
    r = await client.get(
        "/entitlements/check", params={"workspace": ws_a, "key": key, "org_id": org_b}, headers=bob
    )
    assert r.status_code == 404
    r = await client.post(
        "/entitlements/check", json={"checks": [{"workspace": ws_a, "key": key}]}, headers=bob
    )
    assert r.status_code == 404
    for path in (
        f"/entitlements/orgs/{org_a}/pools",
        f"/entitlements/orgs/{org_a}/pools/{pool_a}",
        f"/entitlements/orgs/{org_a}/pools/{pool_a}/entitlements",
        f"/entitlements/orgs/{org_a}/usage-events",
        f"/entitlements/orgs/{org_a}/grants",
    ):
        assert (await client.get(path, headers=bob)).status_code == 404, path
    r = await client.post(
        "/entitlements/usage-events",
        params={"org_id": org_a},
        json={"events": [event(ws_a, key)]},
        headers=bob,
    )
    assert r.status_code == 404
    # his own batch naming A's workspace: rejected as unknown, nothing counted in A
    r = await client.post(
        "/entitlements/usage-events",
        params={"org_id": org_b},
        json={"events": [event(ws_a, key)]},
        headers=bob,
    )
    assert (await ok(r))["results"][0]["reason"] == "unknown_workspace"
    # moving A's workspace into his pool is refused without revealing it
    r = await client.put(f"/entitlements/orgs/{org_b}/pools/{pool_b}/workspaces/{ws_a}", headers=bob)
    assert r.status_code == 404
    assert (await world.check(ws_a, key))["used"] == "0"
    # and an organization owner cannot grant his own organization capacity
    es = await world.set([{"resource_key": key, "rule_type": "limit", "amount": 1000}])
    r = await client.post(
        f"/entitlements/orgs/{org_b}/grants",
        json={
            "pool_id": pool_b,
            "entitlement_set_id": es["id"],
            "reason": "free",
            "ends_at": "2099-01-01T00:00:00Z",
        },
        headers=bob,
    )
    assert r.status_code == 403


async def service_account(world: World, org: str, role: str) -> dict[str, str]:
    """A key of a new service account of `org` holding the system role `role` there."""
    c, h = world.client, world.headers
    account = await ok(
        await c.post(f"/orgs/{org}/service-accounts", json={"name": unique("sa")}, headers=h), 201
    )
    roles = (await ok(await c.get(f"/orgs/{org}/roles", params={"limit": 100}, headers=h)))["items"]
    (role_row,) = [r for r in roles if r["key"] == role]
    body = {"principal_type": "service_account", "principal_id": account["id"], "role_id": role_row["id"]}
    await ok(await c.post(f"/orgs/{org}/role-assignments", json=body, headers=h), 201)
    key = await ok(
        await c.post(f"/orgs/{org}/service-accounts/{account['id']}/keys", json={"name": "k"}, headers=h), 201
    )
    return {"Authorization": f"Bearer {key['token']}"}


async def test_a_product_with_a_service_account_key_checks_and_reports_usage(world: World) -> None:
    key = await world.key()
    org, _, ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 3}])
    other_org, _, other_ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 3}])
    writer = await service_account(world, org, "admin")  # entitlements.*:*
    reader = await service_account(world, org, "viewer")  # entitlements.*:read
    c = world.client

    r = await c.post("/entitlements/usage-events", json={"events": [event(ws, key, 2)]}, headers=writer)
    assert (await ok(r))["accepted"] == 1  # the organization is the key's own
    r = await c.get(
        "/entitlements/check", params={"workspace": ws, "key": key, "quantity": 2}, headers=reader
    )
    assert (await ok(r))["reason"] == "limit_exceeded"
    r = await c.post("/entitlements/usage-events", json={"events": [event(ws, key, 1)]}, headers=reader)
    assert r.status_code == 403  # viewers read, they do not report usage
    # another organization's workspace and organization are invisible
    r = await c.get("/entitlements/check", params={"workspace": other_ws, "key": key}, headers=reader)
    assert r.status_code == 404
    r = await c.post(
        "/entitlements/usage-events",
        params={"org_id": other_org},
        json={"events": [event(other_ws, key)]},
        headers=writer,
    )
    assert r.status_code == 404
    r = await c.get(f"/entitlements/orgs/{org}/usage-events", headers=reader)
    assert len((await ok(r))["items"]) == 1


async def test_a_frozen_organization_refuses_usage_but_still_answers_checks(world: World) -> None:
    key = await world.key()
    org, _, ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 3}])
    writer = await service_account(world, org, "admin")
    c = world.client
    r = await c.post(f"/organizations/{org}/status", json={"status": "frozen"}, headers=world.headers)
    await ok(r)

    r = await c.post("/entitlements/usage-events", json={"events": [event(ws, key, 1)]}, headers=writer)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "organization_frozen"
    r = await c.get("/entitlements/check", params={"workspace": ws, "key": key}, headers=writer)
    assert Decimal((await ok(r))["used"]) == 0  # reads still work, and nothing was recorded
