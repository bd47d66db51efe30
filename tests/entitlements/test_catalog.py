"""Operator API: resource keys and versioned sets; provisions keep their version."""

from __future__ import annotations

import httpx

from tests.entitlements.conftest import World, ok


async def test_resource_keys_of_each_kind(
    world: World, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    numeric = await world.key("numeric", "MAX", unit="GB")
    flag = await world.key("boolean")
    config = await world.key("config", default_value={"region": "eu"})
    r = await client.get(f"/entitlements/resource-keys/{config}", headers=admin_headers)
    body = await ok(r)
    assert body["kind"] == "config"
    assert body["default_value"] == {"region": "eu"}
    assert body["aggregation"] is None
    body = await ok(await client.get(f"/entitlements/resource-keys/{numeric}", headers=admin_headers))
    assert (body["aggregation"], body["unit"]) == ("MAX", "GB")
    page = await ok(
        await client.get("/entitlements/resource-keys", params={"limit": 500}, headers=admin_headers)
    )
    assert {numeric, flag, config} <= {k["key"] for k in page["items"]}


async def test_resource_key_bad_input(
    client: httpx.AsyncClient, admin_headers: dict[str, str], world: World
) -> None:
    cases = [
        ({"key": "Bad Key", "name": "x", "kind": "boolean"}, 400),
        ({"key": "ok.key", "name": "x", "kind": "numeric"}, 422),  # no aggregation
        ({"key": "ok.key", "name": "x", "kind": "numeric", "aggregation": "MEDIAN"}, 400),
        ({"key": "ok.key", "name": "x", "kind": "boolean", "aggregation": "SUM"}, 422),
        ({"key": "ok.key", "name": "x", "kind": "config"}, 422),  # no default value
        ({"key": "ok.key", "name": "x", "kind": "boolean", "extra": 1}, 400),
    ]
    for body, status in cases:
        r = await client.post("/entitlements/resource-keys", json=body, headers=admin_headers)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    key = await world.key("boolean")
    r = await client.post(
        "/entitlements/resource-keys",
        json={"key": key, "name": "x", "kind": "boolean"},
        headers=admin_headers,
    )
    assert r.status_code == 409


async def test_rules_are_validated(
    world: World, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    num = await world.key()
    flag = await world.key("boolean")
    bad_rule_sets = [
        [{"resource_key": "no.such.key", "rule_type": "limit", "amount": 1}],
        [{"resource_key": num, "rule_type": "boolean"}],
        [{"resource_key": num, "rule_type": "limit"}],  # no amount
        [{"resource_key": num, "rule_type": "quota", "amount": 1}],  # quota without reset period
        [{"resource_key": num, "rule_type": "limit", "amount": 1, "reset_period": "month"}],
        [{"resource_key": flag, "rule_type": "limit", "amount": 1}],
        [{"resource_key": flag, "rule_type": "boolean", "value": 3}],  # values are for config keys
        [
            {"resource_key": num, "rule_type": "limit", "amount": 1},
            {"resource_key": num, "rule_type": "credit", "amount": 2},
        ],
    ]
    for rules in bad_rule_sets:
        r = await client.post(
            "/entitlements/sets", json={"key": "bad.set", "name": "x", "rules": rules}, headers=admin_headers
        )
        assert r.status_code == 422, (rules, r.text)
    r = await client.post(
        "/entitlements/sets",
        json={"key": "bad.set", "name": "x", "rules": [{"resource_key": num, "rule_type": "sometimes"}]},
        headers=admin_headers,
    )
    assert r.status_code == 400
    for amount in (-1, "-1", "NaN", "1e15", 10**15):  # outside the documented decimal (RuleAmount)
        rules = [{"resource_key": num, "rule_type": "limit", "amount": amount}]
        r = await client.post(
            "/entitlements/sets", json={"key": "bad.set", "name": "x", "rules": rules}, headers=admin_headers
        )
        assert r.status_code == 400, (amount, r.text)
        assert r.json()["errors"][0]["field"] == "rules[0].amount"


async def test_editing_a_set_adds_a_version_and_provisions_keep_theirs(
    world: World, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key = await world.key()
    org, _pool, ws, es = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 10}])
    assert es["version"] == 1
    r = await client.put(
        f"/entitlements/sets/{es['key']}",
        json={"name": "bigger", "rules": [{"resource_key": key, "rule_type": "limit", "amount": 50}]},
        headers=admin_headers,
    )
    v2 = await ok(r, 201)
    assert v2["version"] == 2
    assert v2["id"] != es["id"]
    assert (await world.check(ws, key))["limit"] == "10"  # the pool still has version 1
    latest = await ok(await client.get(f"/entitlements/sets/{es['key']}", headers=admin_headers))
    assert latest["version"] == 2
    v1 = await ok(await client.get(f"/entitlements/sets/{es['key']}/versions/1", headers=admin_headers))
    assert v1["rules"][0]["amount"] == "10"
    versions = await ok(await client.get(f"/entitlements/sets/{es['key']}/versions", headers=admin_headers))
    assert [v["version"] for v in versions] == [1, 2]
    # a provision made now from version 2 gets version 2's terms
    pool2 = await world.pool(org)
    ws2 = await world.workspace(org)
    await world.assign(org, pool2, ws2)
    await world.provision(org, pool2, v2["id"])
    assert (await world.check(ws2, key))["limit"] == "50"
    r = await client.get(f"/entitlements/sets/{es['key']}/versions/9", headers=admin_headers)
    assert r.status_code == 404
    r = await client.put(
        "/entitlements/sets/never.created", json={"name": "x", "rules": []}, headers=admin_headers
    )
    assert r.status_code == 404


async def test_catalog_is_for_operators_only(
    client: httpx.AsyncClient, world: World, runtime: object
) -> None:
    from tests.entitlements.conftest import person_headers

    headers = await person_headers(runtime, "Plain Person")  # type: ignore[arg-type]
    r = await client.post(
        "/entitlements/resource-keys", json={"key": "x.y", "name": "x", "kind": "boolean"}, headers=headers
    )
    assert r.status_code == 403
    r = await client.get("/entitlements/sets", headers=headers)
    assert r.status_code == 403
