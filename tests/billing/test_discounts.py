"""Coupons and promotion codes: a discount reduces exactly the invoices its duration covers,
a limited code is never used more often than allowed, and a code that cannot apply refuses the
whole subscription. Discounts put on at any time: an account's reaches every invoice of the
account, a subscription's overrides it, a `once` discount reduces exactly one invoice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.test_subscriptions import renew
from tests.entitlements.conftest import Clock, ok
from tests.organization.helpers import assert_problem

APRIL = datetime(2031, 4, 1, 12, tzinfo=UTC)


async def coupon_for(shop: Shop, **terms: Any) -> str:
    body = {"key": f"c-{uuid.uuid4().hex[:8]}", "name": "Goodwill", **terms}
    return str(
        (await ok(await shop.client.post("/billing/coupons", json=body, headers=shop.headers), 201))["id"]
    )


async def apply(shop: Shop, coupon_id: str, subscription_id: str | None = None) -> dict[str, Any]:
    """An operator puts the coupon on the account (or the subscription)."""
    body = {"coupon_id": coupon_id, "subscription_id": subscription_id}
    r = await shop.client.post(f"/billing/orgs/{shop.org}/discounts", json=body, headers=shop.headers)
    result: dict[str, Any] = await ok(r, 201)
    return result


async def discounts(shop: Shop, **params: str) -> list[dict[str, Any]]:
    r = await shop.client.get(f"/billing/orgs/{shop.org}/discounts", params=params, headers=shop.headers)
    items: list[dict[str, Any]] = (await ok(r))["items"]
    return items


async def code_for(shop: Shop, **coupon: Any) -> str:
    """A new coupon with these terms and one promotion code for it (`code_*` keys limit the code)."""
    promo = {k.removeprefix("code_"): coupon.pop(k) for k in list(coupon) if k.startswith("code_")}
    body = {"key": f"c-{uuid.uuid4().hex[:8]}", "name": "Launch", **coupon}
    created = await ok(await shop.client.post("/billing/coupons", json=body, headers=shop.headers), 201)
    promo["code"] = f"save{uuid.uuid4().hex[:8]}"
    r = await shop.client.post(
        f"/billing/coupons/{created['id']}/promotion-codes", json=promo, headers=shop.headers
    )
    return str((await ok(r, 201))["code"])


async def invoices(shop: Shop) -> list[dict[str, Any]]:
    r = await shop.client.get(
        f"/billing/orgs/{shop.org}/invoices", params={"limit": 500}, headers=shop.headers
    )
    items: list[dict[str, Any]] = (await ok(r))["items"]
    return items


async def totals(shop: Shop) -> list[tuple[int, int, int]]:
    return [(i["subtotal"], i["discount_total"], i["total"]) for i in await invoices(shop)]


async def test_a_percent_discount_for_two_periods(shop: Shop, clock: Clock, runtime: Runtime) -> None:
    clock.set(APRIL)
    price = await shop.price(unit_amount=1999)
    code = await code_for(shop, percent_off_bp=2500, duration="repeating", duration_in_periods=2)
    await shop.subscribe((price["id"], 1), promotion_code=code.lower())  # codes are case-insensitive
    for month in (1, 2):
        clock.set(APRIL + timedelta(days=31 * month))
        await renew(runtime)
    assert await totals(shop) == [(1999, 500, 1499), (1999, 500, 1499), (1999, 0, 1999)]  # 499.75 -> 500
    [lapsed] = await discounts(shop)
    assert (lapsed["status"], lapsed["end_reason"]) == ("ended", "expired")
    assert datetime.fromisoformat(lapsed["ends_at"]) == datetime(2031, 6, 1, 12, tzinfo=UTC)  # two months


async def test_an_amount_off_once_and_never_below_zero(shop: Shop, clock: Clock, runtime: Runtime) -> None:
    clock.set(APRIL)
    price = await shop.price(unit_amount=300)
    code = await code_for(shop, amount_off=500, currency="EUR", duration="once")
    await shop.subscribe((price["id"], 1), promotion_code=code)
    clock.set(APRIL + timedelta(days=31))
    await renew(runtime)
    assert await totals(shop) == [(300, 300, 0), (300, 0, 300)]


async def test_a_limited_code_is_used_at_most_its_limit_under_concurrency(
    shop: Shop, runtime: Runtime
) -> None:
    price = await shop.price()
    code = await code_for(shop, percent_off_bp=1000, duration="forever", code_max_redemptions=2)
    pools = [shop.pool] + [await shop.world.pool(shop.org) for _ in range(5)]
    results = await asyncio.gather(
        *(shop.subscribe_raw((price["id"], 1), pool_id=pool, promotion_code=code) for pool in pools)
    )
    assert sorted(r.status_code for r in results) == [201, 201, 409, 409, 409, 409]
    assert {r.json()["code"] for r in results if r.status_code == 409} == {"promotion_code_exhausted"}
    listed = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/subscriptions", headers=shop.headers))
    )["items"]
    assert len(listed) == 2  # the refused ones left nothing behind
    async with runtime.engine.connect() as conn:
        used = await conn.scalar(
            text("SELECT times_redeemed FROM billing.promotion_codes WHERE code = :c"), {"c": code.upper()}
        )
    assert used == 2


async def test_codes_that_cannot_apply_refuse_the_subscription(shop: Shop, clock: Clock) -> None:
    clock.set(APRIL)
    price = await shop.price()
    expired = await code_for(shop, percent_off_bp=1000, code_expires_at="2031-03-01T00:00:00Z")
    dollars = await code_for(shop, amount_off=100, currency="USD")
    for code, status, problem in (
        (expired, 409, "promotion_code_expired"),
        (dollars, 422, "currency_mismatch"),
        ("NOSUCHCODE", 404, "promotion_code_not_found"),
    ):
        assert_problem(await shop.subscribe_raw((price["id"], 1), promotion_code=code), status, problem)
    assert await totals(shop) == []
    bad = {"key": "half-and-half", "name": "x", "percent_off_bp": 10, "amount_off": 10, "currency": "EUR"}
    assert_problem(
        await shop.client.post("/billing/coupons", json=bad, headers=shop.headers), 422, "invalid_coupon"
    )


# --- discounts at any time ------------------------------------------------------------------


async def test_an_account_discount_reaches_every_kind_of_invoice(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    applied = await apply(shop, await coupon_for(shop, percent_off_bp=1000, duration="forever"))
    assert (applied["subscription_id"], applied["status"], applied["ends_at"]) == (None, "active", None)
    assert applied["applied_by_operator"] is True
    price = await shop.price(unit_amount=1000)
    sub = await shop.subscribe((price["id"], 1))  # the subscription's first invoice
    one_time = await shop.price(unit_amount=2500, type="one_time", interval=None)
    purchase = {"account_id": shop.account, "items": [{"price_id": one_time["id"]}], "pool_id": shop.pool}
    await ok(
        await shop.client.post(f"/billing/orgs/{shop.org}/purchases", json=purchase, headers=shop.headers),
        201,
    )
    clock.set(APRIL + timedelta(days=31))
    assert await runtime.scheduler.run_now("billing.renew_subscriptions") is not None
    draft = next(i for i in await invoices(shop) if i["status"] == "draft")
    r = await shop.client.post(
        f"/billing/invoices/{draft['id']}/lines",
        json={"description": "Onboarding", "unit_amount": 400},
        headers=shop.headers,
    )
    grown = await ok(r, 201)
    assert [(line["source"], line["amount"], line["discount_amount"]) for line in grown["lines"]] == [
        ("subscription_item", 1000, 100),
        ("one_off", 400, 40),  # a line added to the draft later gets it too
    ]
    assert sub["id"] == grown["subscription_id"]
    assert await totals(shop) == [(1000, 100, 900), (2500, 250, 2250), (1400, 140, 1260)]


async def test_a_subscription_discount_overrides_the_accounts(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    await apply(shop, await coupon_for(shop, percent_off_bp=1000, duration="forever"))
    price = await shop.price(unit_amount=1000)
    half = await code_for(shop, percent_off_bp=5000, duration="forever")
    own = await shop.subscribe((price["id"], 1), promotion_code=half)
    other = await shop.subscribe((price["id"], 1), pool_id=await shop.world.pool(shop.org))
    assert await totals(shop) == [(1000, 500, 500), (1000, 100, 900)]  # no stacking: one discount each
    listed = await discounts(shop, subscription_id=own["id"])
    assert [(d["promotion_code"], d["status"]) for d in listed] == [(half.upper(), "active")]
    r = await shop.client.delete(
        f"/billing/orgs/{shop.org}/discounts/{listed[0]['id']}", headers=shop.headers
    )
    removed = await ok(r)
    assert (removed["status"], removed["end_reason"]) == ("ended", "removed")
    assert datetime.fromisoformat(removed["ended_at"]) == APRIL
    clock.set(APRIL + timedelta(days=31))
    await renew(runtime)
    renewed = {i["subscription_id"]: i["discount_total"] for i in await invoices(shop)}  # the last of each
    assert renewed == {own["id"]: 100, other["id"]: 100}  # the account's again, once its own is off


async def test_a_once_discount_reduces_exactly_one_invoice_even_when_two_are_made_at_once(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    discount = await apply(shop, await coupon_for(shop, amount_off=300, currency="EUR", duration="once"))
    one_time = await shop.price(unit_amount=1000, type="one_time", interval=None)
    purchase = {"account_id": shop.account, "items": [{"price_id": one_time["id"]}], "pool_id": shop.pool}
    url = f"/billing/orgs/{shop.org}/purchases"
    made = await asyncio.gather(
        *(shop.client.post(url, json=purchase, headers=shop.headers) for _ in range(4))
    )
    assert [r.status_code for r in made] == [201] * 4
    assert sorted(await totals(shop)) == [(1000, 0, 1000)] * 3 + [(1000, 300, 700)]
    [used] = await discounts(shop)
    assert (used["id"], used["status"], used["end_reason"]) == (discount["id"], "ended", "used")
    r = await shop.client.delete(f"/billing/orgs/{shop.org}/discounts/{used['id']}", headers=shop.headers)
    assert_problem(r, 409, "discount_ended")
    price = await shop.price(unit_amount=1000)
    await shop.subscribe((price["id"], 1))
    clock.set(APRIL + timedelta(days=31))
    await renew(runtime)
    assert [t[1] for t in await totals(shop)][4:] == [0, 0]
