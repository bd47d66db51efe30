"""The check API: answers, preflight, batch form, bad input, tenant isolation."""

from __future__ import annotations

import uuid

import httpx

from platform_core.runtime import Runtime
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
