"""Coupons and promotion codes: a discount reduces exactly the invoices its duration covers,
a limited code is never used more often than allowed, and a code that cannot apply refuses the
whole subscription."""

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


async def totals(shop: Shop) -> list[tuple[int, int, int]]:
    invoices = await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers))
    return [(i["subtotal"], i["discount_total"], i["total"]) for i in invoices]


async def test_a_percent_discount_for_two_periods(shop: Shop, clock: Clock, runtime: Runtime) -> None:
    clock.set(APRIL)
    price = await shop.price(unit_amount=1999)
    code = await code_for(shop, percent_off_bp=2500, duration="repeating", duration_in_periods=2)
    await shop.subscribe((price["id"], 1), promotion_code=code.lower())  # codes are case-insensitive
    for month in (1, 2):
        clock.set(APRIL + timedelta(days=31 * month))
        await renew(runtime)
    assert await totals(shop) == [(1999, 500, 1499), (1999, 500, 1499), (1999, 0, 1999)]  # 499.75 -> 500


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
    listed = await ok(await shop.client.get(f"/billing/orgs/{shop.org}/subscriptions", headers=shop.headers))
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
