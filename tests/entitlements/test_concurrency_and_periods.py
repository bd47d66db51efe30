"""Hard limits under 50 concurrent clients, and quota rollover at the exact period boundary."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from modules.entitlements import api as ent_api
from modules.entitlements.contracts import UsageEventIn
from platform_core.runtime.runtime import Runtime
from tests.entitlements.conftest import Clock, World, event, ok


async def test_fifty_concurrent_clients_never_exceed_a_hard_limit(world: World, runtime: Runtime) -> None:
    limit = 137
    key = await world.key()
    org, _, ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": limit}])
    accepted = 0
    statuses: list[int] = []

    async def client_loop() -> None:
        nonlocal accepted
        for _ in range(4):
            r = await world.usage(org, [event(ws, key, 1), event(ws, key, 1)])
            statuses.append(r.status_code)
            if r.status_code == 200:
                accepted += r.json()["accepted"]

    await asyncio.gather(*(client_loop() for _ in range(50)))
    assert set(statuses) <= {200, 409}
    assert accepted == limit  # 400 units were asked for; exactly the limit got through
    async with runtime.engine.connect() as conn:
        used = (
            await conn.execute(
                text("SELECT sum(used) FROM entitlements.numeric_entitlement_usage WHERE org_id = :o"),
                {"o": org},
            )
        ).scalar_one()
        stored = (
            await conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE status = 'accepted'), count(*)"
                    " FROM entitlements.usage_events WHERE org_id = :o"
                ),
                {"o": org},
            )
        ).one()
    assert used == limit
    assert stored[0] == limit
    assert stored[1] == 2 * statuses.count(200)  # every event of every answered batch is in the trail
    check = await world.check(ws, key)
    assert (check["used"], check["allowed"]) == (str(limit), False)


async def test_concurrent_batches_over_many_periods_do_not_deadlock(world: World, runtime: Runtime) -> None:
    """Batches touching the same running totals in different orders lock them in one order."""
    keys = [await world.key() for _ in range(3)]
    org, _, ws, _ = await world.setup(
        [{"resource_key": k, "rule_type": "quota", "amount": 1000, "reset_period": "day"} for k in keys]
    )
    now = datetime.now(UTC)
    days = [(now - timedelta(days=d)).isoformat() for d in range(3)]

    async def batch(seed: int) -> Any:
        order = [(k, d) for k in keys for d in days]
        order = order[seed % len(order) :] + order[: seed % len(order)]
        evs = [
            UsageEventIn(
                event_id=uuid.uuid4().hex,
                workspace=uuid.UUID(ws),
                resource_key=k,
                quantity=Decimal(1),
                occurred_at=datetime.fromisoformat(d),
            )
            for k, d in order
        ]
        async with runtime.uow() as uow:
            return await ent_api.ingest_usage(uow, uuid.UUID(org), evs)

    results = await asyncio.gather(*(batch(i) for i in range(12)))
    # the provision started now: earlier days were not entitled, today's events all count
    assert sum(r.accepted for r in results) == 12 * len(keys)
    assert all(r.rejected == 2 * len(keys) for r in results)


async def test_quota_resets_exactly_at_the_period_boundary(world: World, clock: Clock) -> None:
    clock.set(datetime(2033, 1, 15, tzinfo=UTC))
    key = await world.key()
    org, _, ws, _ = await world.setup(
        [{"resource_key": key, "rule_type": "quota", "amount": 10, "reset_period": "month"}]
    )
    last_instant = datetime(2033, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)
    boundary = datetime(2033, 2, 1, tzinfo=UTC)
    clock.set(last_instant)
    body = await ok(await world.usage(org, [event(ws, key, 10, occurred_at=last_instant.isoformat())]))
    assert body["accepted"] == 1
    before = await world.check(ws, key)
    assert (before["used"], before["allowed"], before["reset_at"]) == ("10", False, "2033-02-01T00:00:00Z")

    clock.set(boundary)
    after = await world.check(ws, key)
    assert (after["used"], after["remaining"], after["allowed"]) == ("0", "10", True)
    assert after["reset_at"] == "2033-03-01T00:00:00Z"
    # a late event from January still counts in January (full); February's own usage is fresh
    late = event(ws, key, 1, occurred_at=last_instant.isoformat())
    body = await ok(await world.usage(org, [late, event(ws, key, 10, occurred_at=boundary.isoformat())]))
    assert [r["status"] for r in body["results"]] == ["rejected", "accepted"]
    assert (await world.check(ws, key))["used"] == "10"


async def test_billing_period_quota_follows_the_cycle_anchor(
    world: World, runtime: Runtime, clock: Clock
) -> None:
    clock.set(datetime(2034, 2, 1, tzinfo=UTC))
    key = await world.key()
    es = await world.set(
        [{"resource_key": key, "rule_type": "quota", "amount": 5, "reset_period": "billing_period"}]
    )
    org = await world.org()
    ws = await world.workspace(org)
    pool = await world.pool(org)
    await world.assign(org, pool, ws)
    await world.provision(
        org, pool, es["id"], billing_cycle={"anchor": "2034-01-31T10:00:00Z", "interval": "month"}
    )
    body = await ok(await world.usage(org, [event(ws, key, 5)]))
    assert body["accepted"] == 1
    check = await world.check(ws, key)
    assert (check["used"], check["reset_at"]) == ("5", "2034-02-28T10:00:00Z")  # clamped month end
    clock.set(datetime(2034, 2, 28, 10, tzinfo=UTC))
    check = await world.check(ws, key)
    assert (check["used"], check["allowed"], check["reset_at"]) == ("0", True, "2034-03-31T10:00:00Z")


async def test_the_same_batch_sent_concurrently_counts_once(world: World) -> None:
    key = await world.key()
    org, _, ws, _ = await world.setup([{"resource_key": key, "rule_type": "limit", "amount": 100}])
    batch = [event(ws, key, 1) for _ in range(5)]
    responses = await asyncio.gather(*(world.usage(org, batch) for _ in range(10)))
    bodies = [r.json() for r in responses if r.status_code == 200]
    assert {r.status_code for r in responses} <= {200, 409}
    assert sum(b["accepted"] for b in bodies) == 5
    assert all(b["accepted"] in (0, 5) for b in bodies)
    assert (await world.check(ws, key))["used"] == "5"
