"""Metered prices billed in arrears (issue 11 point 2), through the HTTP API and the renewal
job on real PostgreSQL: a period's usage, aggregated per its key and priced per unit or by
graduated tiers, lands on the invoice that opens the next period, each event linked once to
the charge that bills it; late events go on the next invoice; rejected ones never; ending a
subscription bills what is left; concurrent claims never take an event twice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from modules.billing.services.metered_usage import check_usage_billed_once
from modules.entitlements import api as ent_api
from modules.entitlements.contracts import ClaimedUsage
from platform_core.core.ids import uuid7
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.test_subscriptions import renew
from tests.entitlements.conftest import Clock, event, ok

APRIL = datetime(2031, 4, 1, 12, tzinfo=UTC)  # the first period: April 1 to May 1
MAY = datetime(2031, 5, 1, 12, tzinfo=UTC)
JUNE = datetime(2031, 6, 1, 12, tzinfo=UTC)


def at(moment: datetime) -> str:
    return moment.isoformat()


async def metered_price(
    shop: Shop, *, aggregation: str = "SUM", limit: int = 10**9, **price: Any
) -> tuple[str, str]:
    """A product whose entitlement set allows `limit` of a new key (hard), and a metered
    monthly price on that key: (resource key, price id)."""
    key = await shop.world.key(aggregation=aggregation)
    entitlement_set = await shop.world.set([{"resource_key": key, "rule_type": "limit", "amount": limit}])
    r = await shop.client.post(
        "/billing/products",
        json={
            "key": f"api-{uuid.uuid4().hex[:8]}",
            "name": "API",
            "entitlement_set_key": entitlement_set["key"],
        },
        headers=shop.headers,
    )
    product = (await ok(r, 201))["id"]
    body = {
        "currency": "EUR",
        "interval": "month",
        "usage_type": "metered",
        "metered_resource_key": key,
        **price,
    }
    r = await shop.client.post(f"/billing/products/{product}/prices", json=body, headers=shop.headers)
    return key, (await ok(r, 201))["id"]


async def use(shop: Shop, clock: Clock, key: str, *usage: tuple[str, datetime]) -> list[str]:
    """Record usage events (quantity, occurred_at) for the shop's workspace, the clock at least
    at the latest of them (the future is refused); their event ids."""
    latest = max(when for _, when in usage)
    if clock.now is None or clock.now < latest:
        clock.set(latest)
    events = [event(shop.workspace, key, quantity, occurred_at=at(when)) for quantity, when in usage]
    result = await ok(await shop.world.usage(shop.org, events))
    assert [r["status"] for r in result["results"]] == ["accepted"] * len(events), result
    return [e["event_id"] for e in events]


async def invoices_of(shop: Shop, subscription_id: str) -> list[dict[str, Any]]:
    r = await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers)
    items: list[dict[str, Any]] = (await ok(r))["items"]
    return sorted((i for i in items if i["subscription_id"] == subscription_id), key=lambda i: i["id"])


def usage_lines(invoice: dict[str, Any]) -> list[dict[str, Any]]:
    return [line for line in invoice["lines"] if line["source"] == "metered_usage"]


async def links(runtime: Runtime, subscription_id: str) -> dict[str, list[str]]:
    """Client event id -> the metered charges linked to it (for the subscription's charges)."""
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT e.event_id, l.pending_charge_id FROM billing.pending_charge_usage_events l"
                " JOIN billing.pending_charges c ON c.id = l.pending_charge_id"
                " JOIN entitlements.usage_events e ON e.id = l.usage_event_id"
                " WHERE c.subscription_id = :s AND c.kind = 'metered_usage'"
            ),
            {"s": subscription_id},
        )
        out: dict[str, list[str]] = {}
        for r in rows:
            out.setdefault(r.event_id, []).append(str(r.pending_charge_id))
        return out


async def test_a_periods_usage_is_billed_per_unit_on_the_next_invoice(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    licensed = await shop.price(unit_amount=1000)
    key, metered = await metered_price(shop, unit_amount=2)
    sub = await shop.subscribe((licensed["id"], 1), (metered, 1))
    (first,) = await invoices_of(shop, sub["id"])
    assert usage_lines(first) == []  # usage is billed in arrears, never in advance

    april = await use(
        shop, clock, key, ("100", APRIL + timedelta(days=1)), ("250.5", APRIL + timedelta(days=9))
    )
    april += await use(shop, clock, key, ("49.5", MAY - timedelta(seconds=1)))
    may = await use(shop, clock, key, ("7", MAY + timedelta(hours=1)))  # the next period's

    clock.set(MAY + timedelta(hours=2))
    await renew(runtime)
    _, renewal = await invoices_of(shop, sub["id"])
    (line,) = usage_lines(renewal)
    assert (line["amount"], line["price_id"]) == (800, metered)  # 400 units x 2
    assert (line["period_start"], line["period_end"]) == ("2031-04-01T12:00:00Z", "2031-05-01T12:00:00Z")
    assert line["description"].startswith("400 x API")
    assert [(x["source"], x["amount"]) for x in renewal["lines"] if x["source"] == "subscription_item"] == [
        ("subscription_item", 1000)
    ]  # the new period's licensed item in advance, next to the ended period's usage
    assert renewal["total"] == 1800
    linked = await links(runtime, sub["id"])
    assert sorted(linked) == sorted(april)  # May's event waits for May's invoice
    assert all(charges == [line["source_id"]] for charges in linked.values())
    assert not set(may) & set(linked)


async def test_graduated_tiers_price_the_period_usage(shop: Shop, clock: Clock, runtime: Runtime) -> None:
    clock.set(APRIL)
    tiers = [{"up_to": 100, "unit_amount": 10}, {"up_to": None, "unit_amount": 5, "flat_amount": 100}]
    key, metered = await metered_price(shop, billing_scheme="tiered", tiers=tiers, tiers_mode="graduated")
    sub = await shop.subscribe((metered, 1))
    ids = await use(shop, clock, key, ("120", APRIL + timedelta(days=2)), ("30.5", APRIL + timedelta(days=3)))

    clock.set(MAY)
    await renew(runtime)
    renewal = (await invoices_of(shop, sub["id"]))[-1]
    (line,) = usage_lines(renewal)
    assert line["amount"] == 100 * 10 + 100 + 50 * 5 + 2  # 150.5 units: 50.5 x 5 = 252.5 -> 252
    assert sorted(await links(runtime, sub["id"])) == sorted(ids)


async def test_the_keys_aggregation_sets_the_billed_quantity(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    """A MAX key (peak seats) bills the period's peak, not the sum of the events."""
    clock.set(APRIL)
    key, metered = await metered_price(shop, aggregation="MAX", unit_amount=300)
    sub = await shop.subscribe((metered, 1))
    await use(shop, clock, key, ("3", APRIL + timedelta(days=1)), ("8", APRIL + timedelta(days=2)))
    await use(shop, clock, key, ("5", APRIL + timedelta(days=3)))
    clock.set(MAY)
    await renew(runtime)
    (line,) = usage_lines((await invoices_of(shop, sub["id"]))[-1])
    assert (line["amount"], line["description"]) == (2400, f"8 x API ({key}, MAX)")


async def test_a_late_event_is_billed_by_the_next_invoice(shop: Shop, clock: Clock, runtime: Runtime) -> None:
    clock.set(APRIL)
    key, metered = await metered_price(shop, unit_amount=10)
    sub = await shop.subscribe((metered, 1))
    on_time = await use(shop, clock, key, ("4", APRIL + timedelta(days=5)))
    clock.set(MAY)
    await renew(runtime)

    clock.set(MAY + timedelta(days=3))  # April's period is invoiced; an April event arrives now
    late = await use(shop, clock, key, ("6", APRIL + timedelta(days=20)))
    may = await use(shop, clock, key, ("1", MAY + timedelta(days=2)))
    clock.set(JUNE)
    await renew(runtime)

    _, april_invoice, may_invoice = await invoices_of(shop, sub["id"])
    assert [line["amount"] for line in usage_lines(april_invoice)] == [40]
    (line,) = usage_lines(may_invoice)
    assert line["amount"] == 70  # the late April event + May's
    linked = await links(runtime, sub["id"])
    assert linked[on_time[0]] == [usage_lines(april_invoice)[0]["source_id"]]
    assert linked[late[0]] == linked[may[0]] == [line["source_id"]]


async def test_rejected_usage_is_never_billed(shop: Shop, clock: Clock, runtime: Runtime) -> None:
    clock.set(APRIL)
    key, metered = await metered_price(shop, limit=10, unit_amount=100)
    sub = await shop.subscribe((metered, 1))
    billed = await use(shop, clock, key, ("9", APRIL + timedelta(days=1)))
    clock.set(APRIL + timedelta(days=2))
    over = event(shop.workspace, key, 5, occurred_at=at(APRIL + timedelta(days=2)))  # past the hard limit
    result = await ok(await shop.world.usage(shop.org, [over]))
    assert result["results"][0]["reason"] == "hard_limit_exceeded"

    clock.set(MAY)
    await renew(runtime)
    (line,) = usage_lines((await invoices_of(shop, sub["id"]))[-1])
    assert line["amount"] == 900
    assert sorted(await links(runtime, sub["id"])) == billed


async def test_ending_a_subscription_bills_its_remaining_usage(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    key, metered = await metered_price(shop, unit_amount=10)
    now_sub = await shop.subscribe((metered, 1))
    await use(shop, clock, key, ("3", APRIL + timedelta(days=1)))
    clock.set(APRIL + timedelta(days=2))
    r = await shop.client.post(
        shop.url(now_sub["id"], "/cancel"), json={"at_period_end": False}, headers=shop.headers
    )
    await ok(r)
    _, final = await invoices_of(shop, now_sub["id"])
    (line,) = usage_lines(final)
    assert (line["amount"], line["period_end"]) == (30, "2031-04-03T12:00:00Z")
    assert final["status"] == "open"

    clock.set(APRIL + timedelta(days=3))
    later = await shop.subscribe((metered, 1))  # the same pool and key: only its own usage
    await use(shop, clock, key, ("5", APRIL + timedelta(days=4)))
    r = await shop.client.post(
        shop.url(later["id"], "/cancel"), json={"at_period_end": True}, headers=shop.headers
    )
    await ok(r)
    clock.set(MAY + timedelta(days=3, hours=1))
    await renew(runtime)
    _, final = await invoices_of(shop, later["id"])
    assert [(x["source"], x["amount"]) for x in final["lines"]] == [("metered_usage", 50)]


async def test_usage_during_a_trial_is_billed_when_the_trial_ends(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    key, metered = await metered_price(shop, unit_amount=10, trial_period_days=7)
    sub = await shop.subscribe((metered, 1))
    assert sub["status"] == "trialing"
    await use(shop, clock, key, ("2", APRIL + timedelta(days=1)))
    clock.set(APRIL + timedelta(days=7, hours=1))
    await renew(runtime)
    (first,) = await invoices_of(shop, sub["id"])
    assert [line["amount"] for line in usage_lines(first)] == [20]


async def claim(runtime: Runtime, shop: Shop, key: str, claim_id: uuid.UUID) -> ClaimedUsage:
    async with runtime.uow() as uow:
        return await ent_api.claim_usage(
            uow, org_id=uuid.UUID(shop.org), pool_id=uuid.UUID(shop.pool), resource_key=key,
            until=MAY, claim_id=claim_id,
        )  # fmt: skip


async def test_concurrent_claims_never_take_an_event_twice(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    key, metered = await metered_price(shop, unit_amount=1)
    await shop.subscribe((metered, 1))
    for day in range(4):
        await use(shop, clock, key, *[("1", APRIL + timedelta(days=day, minutes=m)) for m in range(25)])

    first, second = await asyncio.gather(
        claim(runtime, shop, key, uuid7()), claim(runtime, shop, key, uuid7())
    )
    assert first.event_count + second.event_count == 100
    assert not set(first.usage_event_ids) & set(second.usage_event_ids)

    await use(shop, clock, key, ("1", APRIL + timedelta(days=9)))
    async with runtime.uow() as uow:  # a claim holding its events: the other waits, then finds them taken
        held = await ent_api.claim_usage(
            uow, org_id=uuid.UUID(shop.org), pool_id=uuid.UUID(shop.pool), resource_key=key,
            until=MAY, claim_id=uuid7(),
        )  # fmt: skip
        waiting = asyncio.create_task(claim(runtime, shop, key, uuid7()))
        await asyncio.sleep(0.3)
        assert not waiting.done()
    assert (held.event_count, (await waiting).event_count) == (1, 0)


async def test_the_preview_writes_nothing_and_reconcile_finds_each_event_billed_once(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    key, metered = await metered_price(shop, unit_amount=1)
    sub = await shop.subscribe((metered, 1))
    await use(shop, clock, key, ("2", APRIL + timedelta(days=1)), ("3", APRIL + timedelta(days=2)))
    async with runtime.uow() as uow:
        preview = await ent_api.usage_to_bill(
            uow, org_id=uuid.UUID(shop.org), pool_id=uuid.UUID(shop.pool), resource_key=key, until=MAY
        )
    assert (preview.quantity, preview.event_count, preview.claim_id) == (5, 2, None)
    clock.set(MAY)
    await renew(runtime)
    assert len(await links(runtime, sub["id"])) == 2

    async with runtime.sessionmaker() as session:
        mine = [v for v in await check_usage_billed_once(session) if str(v.org_id) == shop.org]
        assert mine == []
        await session.execute(  # a link dropped: the charge no longer matches its claim
            text(
                "DELETE FROM billing.pending_charge_usage_events WHERE usage_event_id ="
                " (SELECT l.usage_event_id FROM billing.pending_charge_usage_events l"
                "  JOIN billing.pending_charges c ON c.id = l.pending_charge_id"
                "  WHERE c.subscription_id = :s LIMIT 1)"
            ),
            {"s": sub["id"]},
        )
        mine = [v for v in await check_usage_billed_once(session) if str(v.org_id) == shop.org]
        assert [v.invariant for v in mine] == ["metered_usage_linked"]
        await session.rollback()
