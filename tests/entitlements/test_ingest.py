"""Usage ingestion: per-event outcomes, idempotency, soft limits, on-demand overage, the trail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from platform_core.runtime.runtime import Runtime
from tests.entitlements.conftest import World, event, ok


def statuses(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(r["status"], r.get("reason")) for r in body["results"]]


async def test_each_event_is_accepted_duplicate_or_rejected_with_a_reason(world: World) -> None:
    key = await world.key()
    flag = await world.key("boolean")
    org, _pool, ws, _ = await world.setup(
        [
            {"resource_key": key, "rule_type": "limit", "amount": 10},
            {"resource_key": flag, "rule_type": "boolean"},
        ]
    )
    no_pool_ws = await world.workspace(org)
    other_org = await world.org()
    foreign_ws = await world.workspace(other_org)
    first = event(ws, key, 4)
    events = [
        first,
        event(ws, key, 7),  # 4 + 7 > 10
        event(ws, key, 6),  # 4 + 6 = 10
        event(ws, "no.such.key", 1),
        event(no_pool_ws, key, 1),
        event(foreign_ws, key, 1),
        event(ws, key, -1),
        event(ws, key, "1000000000000001"),  # past 1e15 (a NaN is no decimal: the batch is a 400)
        {**first},  # the same event_id again in the batch
        event(ws, flag, 1),
        event(ws, key, 0, properties={"region": "eu"}),
        event(ws, key, 1, properties={"blob": "x" * 17000}),
    ]
    body = await ok(await world.usage(org, events))
    assert statuses(body) == [
        ("accepted", None),
        ("rejected", "hard_limit_exceeded"),
        ("accepted", None),
        ("rejected", "unknown_resource_key"),
        ("rejected", "workspace_without_pool"),
        ("rejected", "unknown_workspace"),
        ("rejected", "bad_quantity"),
        ("rejected", "bad_quantity"),
        ("duplicate", None),
        ("accepted", None),
        ("accepted", None),
        ("rejected", "bad_properties"),
    ]
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (4, 1, 7)
    check = await world.check(ws, key)
    assert (check["used"], check["remaining"], check["allowed"]) == ("10", "0", False)

    # the trail shows accepted and rejected events, filterable
    r = await world.client.get(
        f"/entitlements/orgs/{org}/usage-events", params={"status": "rejected"}, headers=world.headers
    )
    rejected = await ok(r)
    assert len(rejected["items"]) == 7
    assert {i["reason"] for i in rejected["items"]} >= {"hard_limit_exceeded", "unknown_workspace"}
    unknown = [i for i in rejected["items"] if i["reason"] == "unknown_workspace"]
    assert unknown[0]["workspace_id"] is None  # a foreign workspace is not recorded
    r = await world.client.get(
        f"/entitlements/orgs/{org}/usage-events",
        params={"workspace_id": ws, "status": "accepted", "limit": 2},
        headers=world.headers,
    )
    page = await ok(r)
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    r = await world.client.get(
        f"/entitlements/orgs/{org}/usage-events",
        params={"workspace_id": ws, "status": "accepted", "limit": 2, "cursor": page["next_cursor"]},
        headers=world.headers,
    )
    rest = await ok(r)
    assert len(rest["items"]) == 2
    assert rest["next_cursor"] is None
    with_props = [i for i in page["items"] + rest["items"] if i["properties"]]
    assert with_props[0]["properties"] == {"region": "eu"}


async def test_replaying_a_batch_changes_nothing(world: World, runtime: Runtime) -> None:
    key = await world.key()
    org, _, ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 5}])
    batch = [event(ws, key, 2), event(ws, key, 2), event(ws, key, 2)]
    first = await ok(await world.usage(org, batch))
    assert statuses(first) == [("accepted", None), ("accepted", None), ("rejected", "hard_limit_exceeded")]

    async def snapshot() -> tuple[Any, ...]:
        async with runtime.engine.connect() as conn:
            totals = (
                await conn.execute(
                    text(
                        "SELECT used, event_count FROM entitlements.numeric_entitlement_usage"
                        " WHERE org_id = :o"
                    ),
                    {"o": org},
                )
            ).all()
            events = (
                await conn.execute(
                    text("SELECT count(*) FROM entitlements.usage_events WHERE org_id = :o"), {"o": org}
                )
            ).scalar_one()
        return tuple(totals), events

    before = await snapshot()
    again = await ok(await world.usage(org, batch))
    assert statuses(again) == [("duplicate", None)] * 3
    assert await snapshot() == before
    assert before[1] == 3
    assert (await world.check(ws, key))["used"] == "4"


async def test_idempotency_key_replays_the_first_answer(world: World) -> None:
    key = await world.key()
    org, _, ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 5}])
    batch = [event(ws, key, 1)]
    first = await world.usage(org, batch, **{"Idempotency-Key": "batch-1"})
    second = await world.usage(org, batch, **{"Idempotency-Key": "batch-1"})
    assert first.json() == second.json()
    assert second.headers.get("idempotent-replayed") == "true"
    other = await world.usage(org, [event(ws, key, 1)], **{"Idempotency-Key": "batch-1"})
    assert other.status_code == 422


async def test_soft_limit_accepts_and_records_overage(world: World) -> None:
    key = await world.key()
    org, _, ws, _ = await world.setup(
        [{"resource_key": key, "rule_type": "limit", "amount": 10, "enforcement": "soft"}]
    )
    body = await ok(await world.usage(org, [event(ws, key, 8), event(ws, key, 5), event(ws, key, 1)]))
    assert [r["status"] for r in body["results"]] == ["accepted"] * 3
    assert [r.get("overage") for r in body["results"]] == [None, "3", "1"]
    check = await world.check(ws, key)
    assert (check["allowed"], check["reason"], check["used"], check["remaining"]) == (
        True,
        "soft_limit_exceeded",
        "14",
        "0",
    )


async def test_ondemand_overage_is_published_up_to_the_cap(world: World, runtime: Runtime) -> None:
    key = await world.key()
    org, pool, ws, _ = await world.setup(
        [
            {
                "resource_key": key,
                "rule_type": "quota",
                "amount": 10,
                "reset_period": "month",
                "enforcement": "soft",
            }
        ]
    )
    # the price_ref must name a real per-unit price (billing checks it when an operator sets it)
    lookup = f"api_overage_{uuid.uuid4().hex[:8]}"
    r = await world.client.post(
        "/billing/products",
        json={"key": lookup.replace("_", "-"), "name": "API overage"},
        headers=world.headers,
    )
    product = await ok(r, 201)
    r = await world.client.post(
        f"/billing/products/{product['id']}/prices",
        json={"currency": "EUR", "unit_amount": 5, "type": "one_time", "lookup_key": lookup},
        headers=world.headers,
    )
    await ok(r, 201)
    r = await world.client.put(
        f"/entitlements/orgs/{org}/pools/{pool}/ondemand/{key}",
        json={"enabled": True, "price_ref": lookup, "cap": "5"},
        headers=world.headers,
    )
    config = await ok(r)
    assert (config["enabled"], config["cap"]) == (True, "5")
    await ok(await world.usage(org, [event(ws, key, 9)]))
    await ok(await world.usage(org, [event(ws, key, 3), event(ws, key, 1)]))  # overage 2 + 1
    await ok(await world.usage(org, [event(ws, key, 4)]))  # overage 4, only 2 left under the cap
    await ok(await world.usage(org, [event(ws, key, 4)]))  # cap reached: nothing more to bill

    async with runtime.engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    text(
                        "SELECT metadata FROM audit.audit_outbox"
                        " WHERE action = 'entitlements.usage.overage' AND org_id = :o ORDER BY created_at"
                    ),
                    {"o": org},
                )
            )
            .scalars()
            .all()
        )
    assert [(d["quantity"], d["billed_total"]) for d in rows] == [("3", "3"), ("2", "5")]
    assert rows[0]["price_ref"] == lookup
    assert len(rows[0]["usage_event_ids"]) == 2
    assert rows[0]["resource_key"] == key


async def test_ondemand_needs_a_numeric_key_and_a_sane_cap(world: World) -> None:
    flag = await world.key("boolean")
    key = await world.key()
    org = await world.org()
    pool = await world.pool(org)
    base = f"/entitlements/orgs/{org}/pools/{pool}/ondemand"
    r = await world.client.put(f"{base}/{flag}", json={"enabled": True}, headers=world.headers)
    assert r.status_code == 404
    r = await world.client.put(f"{base}/{key}", json={"enabled": True, "cap": "-1"}, headers=world.headers)
    assert r.status_code == 400  # below the documented minimum (contracts.Cap)
    r = await world.client.put(f"{base}/{key}", json={"enabled": "yes"}, headers=world.headers)
    assert r.status_code == 400


async def test_batch_shape_errors_are_400(world: World) -> None:
    key = await world.key()
    org, _, ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 5}])
    too_many = [event(ws, key) for _ in range(1001)]
    bad_batches: list[Any] = [
        {"events": []},
        {"events": too_many},
        {"events": [{**event(ws, key), "workspace": "not-a-uuid"}]},
        {"events": [{**event(ws, key), "quantity": "lots"}]},
        {"events": [{**event(ws, key), "event_id": ""}]},
        {"events": [{**event(ws, key), "occurred_at": "2026-01-01T00:00:00"}]},  # no time zone
        {"events": [{**event(ws, key), "colour": "red"}]},
        {"nope": 1},
    ]
    for body in bad_batches:
        r = await world.client.post(
            "/entitlements/usage-events", params={"org_id": org}, json=body, headers=world.headers
        )
        assert r.status_code == 400, (str(body)[:100], r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await world.client.post(
        "/entitlements/usage-events", json={"events": [event(ws, key)]}, headers=world.headers
    )
    assert r.status_code == 400  # no organization named
    r = await world.usage(str(uuid.uuid4()), [event(ws, key)])
    assert r.status_code == 404
    assert (await world.check(ws, key))["used"] == "0"


async def test_aggregation_methods_through_ingest(world: World) -> None:
    expectations = {"COUNT": "3", "MAX": "9", "MIN": "2", "LATEST": "4", "AVERAGE": "5"}
    for method, used in expectations.items():  # events before the provision would be "not_entitled"
        key = await world.key("numeric", method)
        org, _, ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 100}])
        base = datetime.now(UTC)
        events = [
            event(ws, key, 2, occurred_at=(base + timedelta(seconds=1)).isoformat()),
            event(ws, key, 9, occurred_at=(base + timedelta(seconds=2)).isoformat()),
            event(ws, key, 4, occurred_at=(base + timedelta(seconds=3)).isoformat()),
        ]
        body = await ok(await world.usage(org, events))
        assert body["accepted"] == 3
        check = await world.check(ws, key)
        assert check["used"] == used, method


async def test_overage_is_billable_only_with_ondemand_enabled(world: World, runtime: Runtime) -> None:
    key = await world.key()
    org, pool, ws, _ = await world.setup(
        [{"resource_key": key, "rule_type": "limit", "amount": 1, "enforcement": "soft"}]
    )
    await ok(
        await world.client.put(
            f"/entitlements/orgs/{org}/pools/{pool}/ondemand/{key}",
            json={"enabled": False},
            headers=world.headers,
        )
    )
    body = await ok(await world.usage(org, [event(ws, key, 5)]))
    assert body["results"][0]["overage"] == "4"
    async with runtime.engine.connect() as conn:
        published = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM audit.audit_outbox"
                    " WHERE action = 'entitlements.usage.overage' AND org_id = :o"
                ),
                {"o": org},
            )
        ).scalar_one()
    assert published == 0


async def test_pools_of_unknown_organizations_and_foreign_pools_are_404(world: World) -> None:
    r = await world.client.post(
        f"/entitlements/orgs/{uuid.uuid4()}/pools", json={"name": "x"}, headers=world.headers
    )
    assert r.status_code == 404
    org_a = await world.org()
    org_b = await world.org()
    pool_b = await world.pool(org_b)
    ws_a = await world.workspace(org_a)
    for path in (
        f"/entitlements/orgs/{org_a}/pools/{pool_b}",
        f"/entitlements/orgs/{org_a}/pools/{pool_b}/entitlements",
    ):
        assert (await world.client.get(path, headers=world.headers)).status_code == 404
    r = await world.client.put(
        f"/entitlements/orgs/{org_a}/pools/{pool_b}/workspaces/{ws_a}", headers=world.headers
    )
    assert r.status_code == 404
    r = await world.client.put(
        f"/entitlements/orgs/{org_b}/pools/{pool_b}/workspaces/{ws_a}", headers=world.headers
    )
    assert r.status_code == 404  # a workspace of organization A cannot use B's pool
