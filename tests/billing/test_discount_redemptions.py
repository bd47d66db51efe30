"""Who may put a discount on, and a promotion code's restrictions: an organization redeems
codes but never applies a bare coupon, removes only what it redeemed; a first-time code refuses
an account that has paid, a minimum amount refuses too small a subscription; a limited code is
used at most its limit by many accounts at once, and one account gets one discount however many
codes it redeems at once; the list is paginated; the OpenAPI document states every refusal."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.money_back import billing_admin
from tests.billing.test_discounts import apply, code_for, coupon_for, discounts, invoices
from tests.entitlements.conftest import ok
from tests.organization.helpers import assert_problem


def redeem(shop: Shop, code: str, headers: dict[str, str] | None = None, **extra: Any) -> Any:
    return shop.client.post(
        f"/billing/orgs/{shop.org}/discounts/redeem",
        json={"code": code, **extra},
        headers=headers or shop.headers,
    )


def remove(shop: Shop, discount_id: str, headers: dict[str, str]) -> Any:
    return shop.client.delete(f"/billing/orgs/{shop.org}/discounts/{discount_id}", headers=headers)


async def test_an_org_admin_redeems_codes_but_never_applies_a_coupon(shop: Shop, runtime: Runtime) -> None:
    admin = await billing_admin(shop, runtime)
    coupon = await coupon_for(shop, percent_off_bp=10000, duration="forever")
    r = await shop.client.post(
        f"/billing/orgs/{shop.org}/discounts", json={"coupon_id": coupon}, headers=admin
    )
    assert_problem(r, 403)
    assert await discounts(shop) == []

    redeemed = await ok(await redeem(shop, await code_for(shop, percent_off_bp=1000), admin), 201)
    assert (redeemed["applied_by_operator"], redeemed["subscription_id"]) == (False, None)
    assert_problem(
        await redeem(shop, await code_for(shop, percent_off_bp=2000), admin), 409, "discount_exists"
    )
    removed = await ok(await remove(shop, redeemed["id"], admin))
    assert (removed["status"], removed["end_reason"]) == ("ended", "removed")
    assert await ok(await remove(shop, redeemed["id"], admin)) == removed  # removing again changes nothing

    by_operator = await apply(shop, coupon)
    assert_problem(await remove(shop, by_operator["id"], admin), 403, "discount_applied_by_operator")
    assert (await ok(await remove(shop, by_operator["id"], shop.headers)))["end_reason"] == "removed"
    assert_problem(await remove(shop, str(uuid.uuid4()), admin), 404, "discount_not_found")


async def test_a_first_time_code_refuses_an_account_that_has_paid(shop: Shop) -> None:
    first_time = await code_for(
        shop, percent_off_bp=1000, duration="forever", code_first_time_transaction=True
    )
    before = await ok(await redeem(shop, first_time), 201)  # no invoice yet
    await ok(await remove(shop, before["id"], shop.headers))
    price = await shop.price(unit_amount=1000)
    await shop.subscribe((price["id"], 1))
    [invoice] = await invoices(shop)
    await ok(await shop.client.post(f"/billing/invoices/{invoice['id']}/mark-paid", headers=shop.headers))
    problem = assert_problem(await redeem(shop, first_time), 422, "promotion_code_first_time_only")
    assert "first-time" in problem["detail"]
    assert [d["id"] for d in await discounts(shop)] == [before["id"]]


async def test_a_minimum_amount_refuses_too_small_an_amount(shop: Shop) -> None:
    minimum = {"code_minimum_amount": 5000, "code_minimum_amount_currency": "EUR"}
    code = await code_for(shop, percent_off_bp=1000, duration="forever", **minimum)
    price = await shop.price(unit_amount=1000)
    r = await shop.subscribe_raw((price["id"], 4), promotion_code=code)
    assert_problem(r, 422, "promotion_code_minimum_amount")  # 4000 a period: the whole subscription refused
    assert await invoices(shop) == []
    small = await shop.subscribe((price["id"], 4))
    assert_problem(
        await redeem(shop, code, subscription_id=small["id"]), 422, "promotion_code_minimum_amount"
    )
    assert_problem(await redeem(shop, code), 422, "promotion_code_minimum_amount")  # the account: 4000 too
    big = await shop.subscribe((price["id"], 5), pool_id=await shop.world.pool(shop.org))
    on_big = await ok(await redeem(shop, code, subscription_id=big["id"]), 201)
    assert on_big["subscription_id"] == big["id"]
    await ok(await redeem(shop, code), 201)  # the account's live subscriptions: 9000 a period
    dollars = await code_for(
        shop, percent_off_bp=1000, code_minimum_amount=1, code_minimum_amount_currency="USD"
    )
    assert_problem(await redeem(shop, dollars, subscription_id=small["id"]), 422, "currency_mismatch")


async def second_shop(shop: Shop) -> Shop:
    """Another organization with its own EUR billing account, seen by the same operator."""
    org = await shop.world.org()
    body = {"name": "Other", "email": "billing@other.example", "currency": "EUR"}
    r = await shop.client.post(f"/billing/orgs/{org}/accounts", json=body, headers=shop.headers)
    account = (await ok(r, 201))["id"]
    return Shop(shop.client, shop.headers, shop.world, org, "", "", account, shop.product, shop.key)


async def test_a_limited_code_redeemed_by_many_accounts_at_once_is_used_at_most_its_limit(
    shop: Shop, runtime: Runtime
) -> None:
    code = await code_for(shop, percent_off_bp=1000, duration="forever", code_max_redemptions=2)
    shops = [shop] + [await second_shop(shop) for _ in range(5)]
    results: list[httpx.Response] = await asyncio.gather(*(redeem(s, code) for s in shops))
    assert sorted(r.status_code for r in results) == [201, 201, 409, 409, 409, 409]
    assert {r.json()["code"] for r in results if r.status_code == 409} == {"promotion_code_exhausted"}
    async with runtime.engine.connect() as conn:
        used = await conn.scalar(
            text(
                "SELECT p.times_redeemed + c.times_redeemed FROM billing.promotion_codes p"
                " JOIN billing.coupons c ON c.id = p.coupon_id WHERE p.code = :c"
            ),
            {"c": code.upper()},
        )
        written = await conn.scalar(
            text(
                "SELECT count(*) FROM billing.discounts d JOIN billing.promotion_codes p"
                " ON p.id = d.promotion_code_id WHERE p.code = :c"
            ),
            {"c": code.upper()},
        )
    assert (used, written) == (4, 2)


async def test_one_account_gets_one_discount_however_many_codes_it_redeems_at_once(shop: Shop) -> None:
    codes = [await code_for(shop, percent_off_bp=1000 * n, duration="forever") for n in range(1, 5)]
    results: list[httpx.Response] = await asyncio.gather(*(redeem(shop, code) for code in codes))
    assert sorted(r.status_code for r in results) == [201, 409, 409, 409]
    assert {r.json()["code"] for r in results if r.status_code == 409} == {"discount_exists"}
    assert len(await discounts(shop)) == 1


async def test_the_list_shows_current_and_ended_discounts_page_by_page(shop: Shop) -> None:
    price = await shop.price(unit_amount=1000)
    sub = await shop.subscribe((price["id"], 1))
    made = []
    for percent in (1000, 2000):
        made.append(await apply(shop, await coupon_for(shop, percent_off_bp=percent, duration="forever")))
        await ok(await remove(shop, made[-1]["id"], shop.headers))
    made.append(await apply(shop, await coupon_for(shop, percent_off_bp=3000, duration="forever"), sub["id"]))
    url = f"/billing/orgs/{shop.org}/discounts"
    first = await ok(await shop.client.get(url, params={"limit": 2}, headers=shop.headers))
    rest = await ok(await shop.client.get(url, params={"cursor": first["next_cursor"]}, headers=shop.headers))
    listed = first["items"] + rest["items"]
    assert rest["next_cursor"] is None
    assert [(d["id"], d["status"], d["coupon"]["percent_off_bp"]) for d in listed] == [
        (made[0]["id"], "ended", 1000),
        (made[1]["id"], "ended", 2000),
        (made[2]["id"], "active", 3000),
    ]
    assert [d["id"] for d in await discounts(shop, subscription_id=sub["id"])] == [made[2]["id"]]
    assert_problem(await shop.client.get(url, params={"cursor": "nope"}, headers=shop.headers), 400)


async def test_openapi_documents_every_refusal(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    item = document["paths"]["/billing/orgs/{org_id}/discounts"]
    redeem_op = document["paths"]["/billing/orgs/{org_id}/discounts/redeem"]["post"]
    delete_op = document["paths"]["/billing/orgs/{org_id}/discounts/{discount_id}"]["delete"]
    for op, statuses, codes in (
        (item["post"], {"403", "404", "409", "422"}, ["coupon_not_found", "discount_exists"]),
        (
            redeem_op,
            {"404", "409", "422"},
            ["promotion_code_first_time_only", "promotion_code_minimum_amount"],
        ),
        (delete_op, {"403", "404", "409"}, ["discount_applied_by_operator", "discount_ended"]),
        (item["get"], {"400", "404"}, []),
    ):
        assert statuses <= set(op["responses"]), op["summary"]
        assert all(code in op.get("description", "") for code in codes), op["summary"]
    assert "Idempotency-Key" in {p["name"] for p in item["post"]["parameters"]}
