"""Provisions, grants and materialization: limits are sums of contributions x quantity,
recomputed in the same transaction; expiry is exact at check time before any job runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from modules.entitlements import api as ent_api
from modules.entitlements.contracts import BillingCycle
from platform_core.core.errors import Conflict, Unprocessable
from platform_core.runtime.runtime import Runtime
from tests.entitlements.conftest import FOREVER, Clock, World, event, ok


async def contributions(runtime: Runtime, pool_id: str) -> list[tuple[Decimal, Decimal]]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT c.amount, c.quantity FROM entitlements.numeric_entitlement_contributions c"
                " JOIN entitlements.numeric_entitlements n ON n.id = c.numeric_entitlement_id"
                " WHERE n.pool_id = :p ORDER BY c.amount"
            ),
            {"p": pool_id},
        )
        return [(r[0], r[1]) for r in rows]


async def test_limit_is_the_sum_of_contributions_and_follows_every_change(
    world: World, runtime: Runtime, clock: Clock
) -> None:
    now = datetime(2030, 3, 10, 12, tzinfo=UTC)
    clock.set(now)
    key = await world.key()
    org, pool, ws, plan = await world.setup(
        [{"resource_key": key, "rule_type": "limit", "amount": 10}], quantity=3
    )
    assert (await world.check(ws, key))["limit"] == "30"
    bonus = await world.set([{"resource_key": key, "rule_type": "limit", "amount": 5}])
    grant = await world.grant(org, pool, bonus["id"], (now + timedelta(days=7)).isoformat())
    assert (await world.check(ws, key))["limit"] == "35"
    assert await contributions(runtime, pool) == [(Decimal(5), Decimal(1)), (Decimal(10), Decimal(3))]

    # revoking the grant removes exactly its share, at once
    r = await world.client.post(
        f"/entitlements/orgs/{org}/grants/{grant['id']}/revoke",
        json={"reason": "abuse"},
        headers=world.headers,
    )
    revoked = await ok(r)
    assert revoked["revoked_at"] is not None
    assert (await world.check(ws, key))["limit"] == "30"
    assert await contributions(runtime, pool) == [(Decimal(10), Decimal(3))]
    r = await world.client.post(
        f"/entitlements/orgs/{org}/grants/{grant['id']}/revoke", headers=world.headers
    )
    assert r.status_code == 409

    # the source changes the quantity (as billing does), then ends the provision
    async with runtime.uow() as uow:
        (plan_provision,) = await _provisions(world, org, pool, plan["id"])
        prov = await ent_api.get_provision(uow, uuid.UUID(str(plan_provision["id"])))
        changed = await ent_api.change_provision(uow, prov.id, quantity=Decimal(1))
    assert changed.quantity == Decimal(1)
    assert (await world.check(ws, key))["limit"] == "10"
    async with runtime.uow() as uow:
        ended = await ent_api.deprovision(uow, prov.id)
        again = await ent_api.deprovision(uow, prov.id)
    assert ended.status == again.status == "ended"
    check = await world.check(ws, key)
    assert (check["allowed"], check["reason"], check["limit"]) == (False, "not_entitled", "0")
    assert await contributions(runtime, pool) == []


async def _provisions(
    world: World, org: str, pool: str, set_id: str | None = None
) -> list[dict[str, object]]:
    r = await world.client.get(f"/entitlements/orgs/{org}/pools/{pool}/provisions", headers=world.headers)
    result: list[dict[str, object]] = await ok(r)
    return [p for p in result if set_id is None or p["entitlement_set_id"] == set_id]


async def test_expiry_and_future_starts_are_exact_without_any_job(world: World, clock: Clock) -> None:
    start = datetime(2031, 1, 1, tzinfo=UTC)
    clock.set(start)
    key = await world.key()
    flag = await world.key("boolean")
    org, pool, ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 10}])
    extra = await world.set(
        [
            {"resource_key": key, "rule_type": "limit", "amount": 90},
            {"resource_key": flag, "rule_type": "boolean"},
        ]
    )
    ends = start + timedelta(hours=1)
    await world.grant(
        org, pool, extra["id"], ends.isoformat(), starts_at=(start + timedelta(minutes=10)).isoformat()
    )
    assert (await world.check(ws, key))["limit"] == "10"  # not started yet
    assert (await world.check(ws, flag))["allowed"] is False
    clock.set(start + timedelta(minutes=10))
    assert (await world.check(ws, key))["limit"] == "100"
    assert (await world.check(ws, flag))["allowed"] is True
    # usage at the edge: counted against the limit in force when it occurred
    body = await ok(await world.usage(org, [event(ws, key, 50)]))
    assert body["accepted"] == 1
    clock.set(ends - timedelta(microseconds=1))
    assert (await world.check(ws, key))["limit"] == "100"
    clock.set(ends)
    after = await world.check(ws, key)
    assert (after["limit"], after["used"], after["allowed"]) == ("10", "50", False)
    assert (await world.check(ws, flag))["allowed"] is False
    body = await ok(await world.usage(org, [event(ws, key, 1), event(ws, flag, 1)]))
    assert [r["reason"] for r in body["results"]] == ["hard_limit_exceeded", "not_entitled"]

    # the materialized view shows the schedule; housekeeping refreshes the stored current value
    r = await world.client.get(f"/entitlements/orgs/{org}/pools/{pool}/entitlements", headers=world.headers)
    view = await ok(r)
    (numeric,) = [n for n in view["numeric"] if n["resource_key"] == key]
    assert numeric["limit"] == "10"  # as of the last materialization, before the grant started
    assert [s["limit"] for s in numeric["schedule"]] == ["10", "100", "10"]


async def test_the_rematerialize_job_refreshes_stored_values(
    world: World, runtime: Runtime, clock: Clock
) -> None:
    start = datetime(2032, 6, 1, tzinfo=UTC)
    clock.set(start)
    key = await world.key()
    org, pool, _ws, _es = await world.setup(
        [{"resource_key": key, "rule_type": "limit", "amount": 7}],
        ends_at=(start + timedelta(days=1)).isoformat(),
    )
    clock.set(start + timedelta(days=2))
    outcome = await runtime.scheduler.run_now("entitlements.rematerialize")  # what workers run
    assert outcome is not None
    assert outcome.succeeded, outcome
    assert outcome.result.startswith("re-materialized")
    assert outcome.result != "re-materialized 0 pool(s)"
    r = await world.client.get(f"/entitlements/orgs/{org}/pools/{pool}/entitlements", headers=world.headers)
    (numeric,) = (await ok(r))["numeric"]
    assert (numeric["limit"], numeric["schedule"], numeric["next_change_at"]) == ("0", [], None)
    (prov,) = await _provisions(world, org, pool)
    assert (prov["status"], prov["ended_at"]) == ("ended", prov["ends_at"])


async def test_conflicting_rules_and_missing_billing_cycle_are_refused(
    world: World, runtime: Runtime
) -> None:
    key = await world.key()
    org, pool, ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 10}])
    soft = await world.set([{"resource_key": key, "rule_type": "limit", "amount": 10, "enforcement": "soft"}])
    r = await world.client.post(
        f"/entitlements/orgs/{org}/grants",
        json={"pool_id": pool, "entitlement_set_id": soft["id"], "reason": "r", "ends_at": FOREVER},
        headers=world.headers,
    )
    assert r.status_code == 409
    assert r.json()["code"] == "conflicting_rules"
    assert (await world.check(ws, key))["limit"] == "10"  # nothing half-applied

    monthly = await world.set(
        [
            {
                "resource_key": await world.key(),
                "rule_type": "quota",
                "amount": 1,
                "reset_period": "billing_period",
            }
        ]
    )
    async with runtime.uow() as uow:
        with pytest.raises(Unprocessable):
            await ent_api.provision(
                uow,
                org_id=uuid.UUID(org),
                pool_id=uuid.UUID(pool),
                source_type="subscription",
                source_id=uuid.uuid4(),
                entitlement_set_id=uuid.UUID(monthly["id"]),
            )
    cycle = BillingCycle(anchor=datetime(2026, 1, 31, tzinfo=UTC), interval="month")
    grant = await world.grant(
        org,
        pool,
        monthly["id"],
        FOREVER,
        billing_cycle={"anchor": "2026-01-31T00:00:00Z", "interval": "month"},
    )
    async with runtime.uow() as uow:
        args = {
            "org_id": uuid.UUID(org),
            "pool_id": uuid.UUID(pool),
            "source_type": "grant",
            "source_id": uuid.UUID(grant["id"]),
            "entitlement_set_id": uuid.UUID(monthly["id"]),
            "billing_cycle": cycle,
        }
        first = await ent_api.get_provision(uow, uuid.UUID(grant["provision_id"]))
        assert await ent_api.provision(uow, **args) == first  # same source, same terms: no-op  # type: ignore[arg-type]
        with pytest.raises(Conflict):
            await ent_api.provision(uow, **{**args, "quantity": Decimal(2)})  # type: ignore[arg-type]
    assert first.billing_cycle == cycle


async def test_grants_need_a_window_and_list(world: World) -> None:
    key = await world.key()
    org, pool, _, es = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 1}])
    r = await world.client.post(
        f"/entitlements/orgs/{org}/grants",
        json={"pool_id": pool, "set_key": es["key"], "reason": "r", "ends_at": "2000-01-01T00:00:00Z"},
        headers=world.headers,
    )
    assert r.status_code == 422
    r = await world.client.post(
        f"/entitlements/orgs/{org}/grants",
        json={"pool_id": pool, "reason": "r", "ends_at": "2099-01-01T00:00:00Z"},
        headers=world.headers,
    )
    assert r.status_code == 400
    other_pool = await world.pool(org)  # `pool` has setup's grant
    grant = await world.grant(org, other_pool, es["id"], "2099-01-01T00:00:00Z")
    assert grant["provision_id"] is not None
    r = await world.client.get(
        f"/entitlements/orgs/{org}/grants", params={"pool_id": other_pool}, headers=world.headers
    )
    assert [g["id"] for g in (await ok(r))["items"]] == [grant["id"]]


async def test_the_operator_route_provisions_only_from_an_existing_grant(world: World) -> None:
    key = await world.key()
    org, pool, _, es = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 1}])
    grant = await world.grant(org, pool, es["id"], FOREVER)
    url = f"/entitlements/orgs/{org}/pools/{pool}/provisions"
    body = {"source_type": "grant", "source_id": grant["id"], "entitlement_set_id": es["id"]}
    provision = await ok(await world.client.post(url, json=body, headers=world.headers), 201)
    assert provision["id"] == grant["provision_id"]  # the grant's own provision, not a second one
    r = await world.client.post(url, json={**body, "quantity": "2"}, headers=world.headers)
    assert (r.status_code, r.json()["code"]) == (409, "already_provisioned")

    other_pool = await world.pool(org)
    r = await world.client.post(
        f"/entitlements/orgs/{org}/pools/{other_pool}/provisions", json=body, headers=world.headers
    )
    assert (r.status_code, r.json()["code"]) == (422, "grant_pool_mismatch")
    r = await world.client.post(url, json={**body, "source_id": str(uuid.uuid4())}, headers=world.headers)
    assert (r.status_code, r.json()["code"]) == (404, "grant_not_found")
    for source_type in ("subscription", "purchase"):
        r = await world.client.post(url, json={**body, "source_type": source_type}, headers=world.headers)
        assert r.status_code == 400, source_type  # billing provisions its own sources
    assert len(await _provisions(world, org, pool)) == 2  # setup's grant and this one
