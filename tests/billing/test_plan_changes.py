"""Plan changes after Stripe's subscription update: a swap prorated to the second (half-to-even)
and re-provisioned, `always_invoice` and `none`, adding and removing items, changes scheduled
for the period's end and applied by the renewal, and refusals that write nothing."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.entitlements.conftest import Clock, ok

APRIL = datetime(2031, 4, 1, 12, tzinfo=UTC)  # a 30-day period: April 1 to May 1
MAY = datetime(2031, 5, 1, 12, tzinfo=UTC)
# 1,727,568 s before May 1: 666.5 of 1000 (to even: 666) and 1999.5 of 3000 (to even: 2000)
HALF_CENT_MOMENT = MAY - timedelta(seconds=1_727_568)
PROBLEM = "application/problem+json"


async def product(shop: Shop, name: str, seats: int, key: str | None = None) -> str:
    entitlement_set = await shop.world.set(
        [{"resource_key": key or shop.key, "rule_type": "limit", "amount": seats}]
    )
    r = await shop.client.post(
        "/billing/products",
        json={
            "key": f"p-{uuid.uuid4().hex[:10]}",
            "name": name,
            "entitlement_set_key": entitlement_set["key"],
        },
        headers=shop.headers,
    )
    return str((await ok(r, 201))["id"])


async def price(shop: Shop, product_id: str, **body: Any) -> str:
    fields: dict[str, Any] = {"currency": "EUR", "unit_amount": 1000, "interval": "month", **body}
    r = await shop.client.post(f"/billing/products/{product_id}/prices", json=fields, headers=shop.headers)
    return str((await ok(r, 201))["id"])


async def update(shop: Shop, sub_id: str, **body: Any) -> httpx.Response:
    return await shop.client.post(shop.url(sub_id, "/update"), json=body, headers=shop.headers)


async def run(runtime: Runtime, job: str) -> None:
    outcome = await runtime.scheduler.run_now(job)
    assert outcome is not None
    assert outcome.succeeded, outcome


async def invoices(shop: Shop) -> list[dict[str, Any]]:
    body = await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers))
    found: list[dict[str, Any]] = body["items"] if isinstance(body, dict) else body
    return found


async def pending(runtime: Runtime, org: str) -> list[int]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT amount FROM billing.pending_charges WHERE org_id = :org AND invoice_id IS NULL"
                " ORDER BY created_at, id"
            ),
            {"org": org},
        )
        return [r[0] for r in rows]


async def pro_setup(shop: Shop, clock: Clock) -> tuple[str, str, dict[str, Any]]:
    """Team (10 seats, 1000/month) subscribed on April 1; Pro (100 seats, 3000/month) on offer."""
    clock.set(APRIL)
    team = await shop.price(unit_amount=1000)
    pro = await price(shop, await product(shop, "Pro", 100), unit_amount=3000)
    sub = await shop.subscribe((team["id"], 1))
    return team["id"], pro, sub


async def test_an_upgrade_mid_period_is_prorated_to_the_second_and_reprovisioned(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    _, pro, sub = await pro_setup(shop, clock)
    item = sub["items"][0]
    clock.set(HALF_CENT_MOMENT)

    change = await ok(await update(shop, sub["id"], items=[{"id": item["id"], "price_id": pro}]))

    assert [line["amount"] for line in change["proration"]] == [-666, 2000]  # 666.5 -> 666, 1999.5 -> 2000
    assert {line["item_id"] for line in change["proration"]} == {item["id"]}
    assert change["invoice"] is None
    assert change["scheduled_change"] is None
    (after,) = change["subscription"]["items"]
    assert (after["id"], after["price_id"], after["provision_id"]) == (item["id"], pro, item["provision_id"])
    assert (await shop.seats())["limit"] == "100"
    assert await pending(runtime, shop.org) == [-666, 2000]
    trail = (await shop.changes(sub["id"]))[-1]
    assert trail["kind"] == "items_changed"
    assert trail["after"]["items"][0]["price_id"] == pro
    assert [line["amount"] for line in trail["proration"]] == [-666, 2000]

    clock.set(MAY)
    await run(runtime, "billing.renew_subscriptions")
    renewal = (await invoices(shop))[-1]
    assert [(line["description"], line["amount"]) for line in renewal["lines"]] == [
        ("1 x Pro", 3000),
        (f"Unused time on 1 x price {sub['items'][0]['price_id']}", -666),
        (f"Remaining time on 1 x price {pro}", 2000),
    ]


async def test_always_invoice_finalizes_the_proration_at_once(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    _, pro, sub = await pro_setup(shop, clock)
    clock.set(APRIL + timedelta(days=15))  # half the period

    change = await ok(
        await update(
            shop,
            sub["id"],
            items=[{"id": sub["items"][0]["id"], "price_id": pro}],
            proration_behavior="always_invoice",
        )
    )

    invoice = change["invoice"]
    assert invoice["status"] == "open"
    assert invoice["number"].startswith("KEEL-")
    assert [line["amount"] for line in invoice["lines"]] == [-500, 1500]
    assert invoice["total"] == 1000
    assert await pending(runtime, shop.org) == []


async def test_none_prorates_nothing(shop: Shop, clock: Clock, runtime: Runtime) -> None:
    _, pro, sub = await pro_setup(shop, clock)
    clock.set(APRIL + timedelta(days=15))

    change = await ok(
        await update(
            shop, sub["id"], items=[{"id": sub["items"][0]["id"], "price_id": pro}], proration_behavior="none"
        )
    )

    assert change["proration"] == []
    assert change["invoice"] is None
    assert change["subscription"]["items"][0]["price_id"] == pro
    assert (await shop.seats())["limit"] == "100"
    assert await pending(runtime, shop.org) == []
    assert (await shop.changes(sub["id"]))[-1]["proration"] == []


async def test_adding_and_removing_items_provisions_and_deprovisions(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    team = await shop.price(unit_amount=1000)
    storage_key = await shop.world.key(aggregation="MAX")
    storage = await price(shop, await product(shop, "Storage", 5, key=storage_key), unit_amount=600)
    sub = await shop.subscribe((team["id"], 1))
    clock.set(APRIL + timedelta(days=15))

    added = await ok(await update(shop, sub["id"], items=[{"price_id": storage, "quantity": 2}]))
    new_item = next(i for i in added["subscription"]["items"] if i["price_id"] == storage)
    assert [(line["item_id"], line["amount"]) for line in added["proration"]] == [(new_item["id"], 600)]
    assert (await shop.world.check(shop.workspace, storage_key))["limit"] == "10"

    clock.set(APRIL + timedelta(days=24))  # 6 of 30 days left
    removed = await ok(await update(shop, sub["id"], items=[{"id": new_item["id"], "deleted": True}]))

    assert [i["price_id"] for i in removed["subscription"]["items"]] == [team["id"]]
    assert [line["amount"] for line in removed["proration"]] == [-240]  # 1200 x 6/30
    storage_check = await shop.world.check(shop.workspace, storage_key)
    assert storage_check["allowed"] is False, storage_check
    assert (await shop.seats())["limit"] == "10"  # the remaining item's provision is untouched
    # a removed price can be added again later (only current items are unique per price)
    again = await ok(await update(shop, sub["id"], items=[{"price_id": storage}], proration_behavior="none"))
    assert sorted(i["price_id"] for i in again["subscription"]["items"]) == sorted([team["id"], storage])


async def test_a_downgrade_scheduled_for_the_period_end_changes_entitlements_then(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    team = await shop.price(unit_amount=1000)
    pro = await price(shop, await product(shop, "Pro", 100), unit_amount=3000)
    sub = await shop.subscribe((pro, 1))
    clock.set(APRIL + timedelta(days=10))

    change = await ok(
        await update(
            shop, sub["id"], items=[{"id": sub["items"][0]["id"], "price_id": team["id"]}], at="period_end"
        )
    )

    scheduled = change["scheduled_change"]
    assert (scheduled["status"], scheduled["effective_at"]) == ("scheduled", "2031-05-01T12:00:00Z")
    assert change["proration"] == []
    assert change["subscription"]["items"][0]["price_id"] == pro
    listed = await ok(await shop.client.get(shop.url(sub["id"], "/scheduled-changes"), headers=shop.headers))
    assert [c["id"] for c in listed["items"]] == [scheduled["id"]]
    assert (await shop.seats())["limit"] == "100"
    clock.set(MAY - timedelta(seconds=1))
    await run(runtime, "billing.renew_subscriptions")
    assert (await shop.seats())["limit"] == "100"  # not before the period's end

    clock.set(MAY)
    await run(runtime, "billing.renew_subscriptions")

    assert (await shop.seats())["limit"] == "10"
    current = await ok(await shop.client.get(shop.url(sub["id"]), headers=shop.headers))
    assert [i["price_id"] for i in current["items"]] == [team["id"]]
    renewal = (await invoices(shop))[-1]
    assert [(line["description"], line["amount"]) for line in renewal["lines"]] == [("1 x Team", 1000)]
    listed = await ok(await shop.client.get(shop.url(sub["id"], "/scheduled-changes"), headers=shop.headers))
    assert [(c["status"], c["applied_at"]) for c in listed["items"]] == [("applied", "2031-05-01T12:00:00Z")]
    kinds = [c["kind"] for c in await shop.changes(sub["id"])]
    assert kinds[-2:] == ["scheduled_change_applied", "renewed"]


async def test_a_scheduled_change_can_be_canceled(shop: Shop, clock: Clock, runtime: Runtime) -> None:
    team, pro, sub = await pro_setup(shop, clock)
    change = await ok(
        await update(shop, sub["id"], items=[{"id": sub["items"][0]["id"], "price_id": pro}], at="period_end")
    )
    scheduled_id = change["scheduled_change"]["id"]
    again = await update(
        shop, sub["id"], items=[{"id": sub["items"][0]["id"], "quantity": 2}], at="period_end"
    )
    assert (again.status_code, again.json()["code"]) == (409, "change_already_scheduled")

    canceled = await ok(
        await shop.client.post(
            shop.url(sub["id"], f"/scheduled-changes/{scheduled_id}/cancel"), headers=shop.headers
        )
    )

    assert canceled["status"] == "canceled"
    assert canceled["canceled_at"] is not None
    clock.set(MAY)
    await run(runtime, "billing.renew_subscriptions")
    current = await ok(await shop.client.get(shop.url(sub["id"]), headers=shop.headers))
    assert [i["price_id"] for i in current["items"]] == [team]
    assert (await shop.seats())["limit"] == "10"


async def test_a_metered_price_is_swapped_at_the_period_end_only(shop: Shop, clock: Clock) -> None:
    _team, _, sub = await pro_setup(shop, clock)
    metered = (await shop.price(usage_type="metered", metered_resource_key=shop.key, unit_amount=5))["id"]

    now = await update(shop, sub["id"], items=[{"id": sub["items"][0]["id"], "price_id": metered}])
    later = await update(
        shop, sub["id"], items=[{"id": sub["items"][0]["id"], "price_id": metered}], at="period_end"
    )

    assert (now.status_code, now.json()["code"]) == (422, "metered_change_at_period_end")
    assert (await ok(later))["scheduled_change"]["items"][0]["price_id"] == metered


async def snapshot(runtime: Runtime, org: str) -> tuple[Any, ...]:
    async with runtime.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    """SELECT
                    (SELECT count(*) FROM billing.subscription_items i JOIN billing.subscriptions s
                        ON s.id = i.subscription_id WHERE s.org_id = :org),
                    (SELECT string_agg(i.price_id::text || 'x' || i.quantity, ',' ORDER BY i.id)
                        FROM billing.subscription_items i JOIN billing.subscriptions s
                        ON s.id = i.subscription_id WHERE s.org_id = :org AND i.removed_at IS NULL),
                    (SELECT count(*) FROM billing.subscription_changes WHERE org_id = :org),
                    (SELECT count(*) FROM billing.pending_charges WHERE org_id = :org),
                    (SELECT count(*) FROM billing.invoices WHERE org_id = :org),
                    (SELECT count(*) FROM billing.subscription_scheduled_changes WHERE org_id = :org)"""
                ),
                {"org": org},
            )
        ).one()
    return tuple(row)


async def test_bad_changes_are_refused_with_a_problem_and_write_nothing(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    team, pro, sub = await pro_setup(shop, clock)
    item = sub["items"][0]["id"]
    yearly = await shop.price(unit_amount=10000, interval="year")
    dollars = await shop.price(unit_amount=1000, currency="USD")
    once = await shop.price(unit_amount=1000, type="one_time", interval=None)
    clock.set(APRIL + timedelta(days=3))
    before = await snapshot(runtime, shop.org)
    swap = {"id": item, "price_id": pro}  # valid on its own: refused with the bad entry, never half-applied
    cases = [
        ([swap, {"id": str(uuid.uuid4()), "quantity": 2}], {}, 404, "subscription_item_not_found"),
        ([swap, {"price_id": str(uuid.uuid4())}], {}, 404, "price_not_found"),
        ([{"id": item, "price_id": yearly["id"]}], {}, 422, "interval_mismatch"),
        ([{"id": item, "price_id": dollars["id"]}], {}, 422, "currency_mismatch"),
        ([swap, {"price_id": once["id"]}], {}, 422, "price_not_recurring"),
        ([{"id": item, "deleted": True}], {}, 422, "last_item"),
        ([swap, {"price_id": pro}], {}, 422, "duplicate_price"),
        ([{"id": item, "deleted": True, "quantity": 2}], {}, 422, "item_change_shape"),
        ([swap], {"proration_date": (APRIL - timedelta(days=1)).isoformat()}, 422, "invalid_proration_date"),
        ([swap], {"proration_date": (APRIL + timedelta(days=4)).isoformat()}, 422, "invalid_proration_date"),
        ([swap], {"at": "period_end", "proration_behavior": "none"}, 422, "proration_at_period_end"),
    ]
    for items, extra, status, code in cases:
        r = await update(shop, sub["id"], items=items, **extra)
        assert (r.status_code, r.headers["content-type"], r.json()["code"]) == (status, PROBLEM, code), (
            code,
            r.text,
        )
    malformed = await update(shop, sub["id"], items=[], proration_behavior="sometimes")
    assert (malformed.status_code, malformed.headers["content-type"]) == (400, PROBLEM)

    assert await snapshot(runtime, shop.org) == before
    assert (await shop.seats())["limit"] == "10"
    assert team in {
        i["price_id"]
        for i in (await ok(await shop.client.get(shop.url(sub["id"]), headers=shop.headers)))["items"]
    }


async def test_concurrent_changes_form_one_sequence(shop: Shop, clock: Clock, runtime: Runtime) -> None:
    clock.set(APRIL)
    team = await shop.price(unit_amount=1000)
    sub = await shop.subscribe((team["id"], 1))
    item = sub["items"][0]["id"]
    clock.set(APRIL + timedelta(days=15))

    results = await asyncio.gather(
        *(update(shop, sub["id"], items=[{"id": item, "quantity": q}]) for q in range(2, 8)),
        *(update(shop, sub["id"], items=[{"id": item, "quantity": 9}], at="period_end") for _ in range(3)),
    )

    assert sorted(r.status_code for r in results) == [200] * 7 + [409] * 2
    changes = [c for c in await shop.changes(sub["id"]) if c["kind"] == "items_changed"]
    for earlier, later in itertools.pairwise(changes):  # each change starts where the one before ended
        assert later["before"]["items"] == earlier["after"]["items"]
    final = changes[-1]["after"]["items"][0]["quantity"]
    # every credit undoes the charge before it: what is pending is the final quantity's half period
    assert sum(await pending(runtime, shop.org)) == final * 500 - 500
    listed = await ok(await shop.client.get(shop.url(sub["id"], "/scheduled-changes"), headers=shop.headers))
    assert [c["status"] for c in listed["items"]] == ["scheduled"]
