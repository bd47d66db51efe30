"""No free service by self-service (issue 10 point 8): the trial is the operators' to offer
and the customer's only to shorten; the on-demand price and cap are operator-only and the
price must exist; canceling now credits only what was paid of the period; overage no price
could price waits for an operator, who prices or waives it; tier amounts are bounded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from modules.identity import api as identity_api
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.money_back import audited, paid_invoice
from tests.billing.test_usage_charges import soft_quota_with_ondemand, usage_charges
from tests.entitlements.conftest import Clock, event, ok
from tests.organization.helpers import Person, join

START = datetime(2031, 4, 1, 12, tzinfo=UTC)


async def member(shop: Shop, runtime: Runtime, role: str) -> dict[str, str]:
    """A person holding `role` in the shop's organization, and nothing at platform scope."""
    email = f"{uuid.uuid4().hex[:10]}@example.test"
    async with runtime.uow() as uow:
        person = await identity_api.create_person(uow, kind="individual", display_name="Org", email=email)
        token = await identity_api.issue_token(uow, person_id=person.id, name="tests", scopes=["*"])
    someone = Person(id=person.id, email=email, headers={"Authorization": f"Bearer {token.token}"})
    operator = Person(id=uuid.uuid4(), email="", headers=shop.headers)
    await join(shop.client, shop.org, operator, someone, role)
    return someone.headers


# --- trials -------------------------------------------------------------------------------


async def test_the_trial_is_the_operators_and_a_customer_may_only_shorten_it(
    shop: Shop, runtime: Runtime
) -> None:
    owner = await member(shop, runtime, "owner")
    offered = await shop.price(trial_period_days=14)
    assert offered["trial_period_days"] == 14

    async def trial(**extra: Any) -> Any:
        return await shop.subscribe_raw((offered["id"], 1), headers=owner, **extra)

    r = await trial(trial_period_days=730)
    assert (r.status_code, r.json()["code"]) == (422, "trial_too_long")
    r = await trial(trial_period_days=15)
    assert (r.status_code, r.json()["code"]) == (422, "trial_too_long")
    r = await trial(trial_end="2999-01-01T00:00:00Z")
    assert (r.status_code, r.json()["code"]) == (422, "trial_too_long")
    assert (await trial(trial_period_days=731)).status_code == 400  # past any trial at all
    r = await trial(trial_period_days=7, trial_end="2999-01-01T00:00:00Z")
    assert (r.status_code, r.json()["code"]) == (422, "trial_shape")
    sub = await ok(await trial(trial_period_days=7), 201)
    days = (parse(sub["trial_end"]) - parse(sub["current_period_start"])).days
    assert (sub["status"], days) == ("trialing", 7)
    await ok(await shop.client.post(shop.url(sub["id"], "/cancel"), json={"at_period_end": False},
                                    headers=shop.headers))  # fmt: skip


async def test_no_trial_unless_offered_and_the_product_offers_one_for_its_prices(
    shop: Shop, runtime: Runtime
) -> None:
    owner = await member(shop, runtime, "owner")
    plain = await shop.price()
    r = await shop.subscribe_raw((plain["id"], 1), headers=owner, trial_period_days=1)
    assert (r.status_code, r.json()["code"]) == (422, "trial_too_long")
    sub = await ok(await shop.subscribe_raw((plain["id"], 1), headers=owner), 201)
    assert (sub["status"], sub["trial_end"]) == ("active", None)
    await ok(await shop.client.post(shop.url(sub["id"], "/cancel"), json={"at_period_end": False},
                                    headers=shop.headers))  # fmt: skip

    r = await shop.client.patch(
        f"/billing/products/{shop.product}", json={"trial_period_days": 30}, headers=owner
    )
    assert r.status_code in (403, 404)  # the catalog is the operators'
    product = await ok(
        await shop.client.patch(
            f"/billing/products/{shop.product}", json={"trial_period_days": 30}, headers=shop.headers
        )
    )
    assert product["trial_period_days"] == 30
    inherited = await shop.price()
    sub = await ok(await shop.subscribe_raw((inherited["id"], 1), headers=owner), 201)
    assert (parse(sub["trial_end"]) - parse(sub["current_period_start"])).days == 30
    r = await shop.subscribe_raw((inherited["id"], 1), headers=owner, trial_period_days=31)
    assert r.status_code == 422


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- on-demand price and cap --------------------------------------------------------------


async def test_ondemand_price_and_cap_are_operator_only_and_the_price_must_exist(
    shop: Shop, runtime: Runtime
) -> None:
    key = await shop.world.key()
    url = f"/entitlements/orgs/{shop.org}/pools/{shop.pool}/ondemand/{key}"
    for role in ("owner", "admin", "billing_admin"):
        headers = await member(shop, runtime, role)
        r = await shop.client.put(url, json={"enabled": True, "price_ref": "x", "cap": None}, headers=headers)
        assert r.status_code in (403, 404), role
    r = await shop.client.put(url, json={"enabled": True, "price_ref": "no-such-price"}, headers=shop.headers)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_price_ref")
    tiered = await shop.price(
        unit_amount=None,
        billing_scheme="tiered",
        tiers_mode="volume",
        tiers=[{"up_to": None, "unit_amount": 5}],
    )
    r = await shop.client.put(url, json={"enabled": True, "price_ref": tiered["id"]}, headers=shop.headers)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_price_ref")
    usd = await shop.price(currency="USD", unit_amount=5)
    r = await shop.client.put(url, json={"enabled": True, "price_ref": usd["id"]}, headers=shop.headers)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_price_ref")  # the account is EUR
    eur = await shop.price(unit_amount=5, lookup_key=f"overage_{uuid.uuid4().hex[:8]}")
    for ref in (eur["id"], eur["lookup_key"]):
        config = await ok(
            await shop.client.put(
                url, json={"enabled": True, "price_ref": ref, "cap": "10"}, headers=shop.headers
            )
        )
        assert (config["price_ref"], config["cap"]) == (ref, "10")


# --- canceling now ------------------------------------------------------------------------


async def cancel_now(shop: Shop, sub: dict[str, Any]) -> list[int]:
    r = await shop.client.post(
        shop.url(sub["id"], "/cancel"), json={"at_period_end": False}, headers=shop.headers
    )
    await ok(r)
    return [line["amount"] for line in (await shop.changes(sub["id"]))[-1]["proration"]]


async def period_invoice(shop: Shop, sub: dict[str, Any]) -> dict[str, Any]:
    invoices = (await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers)))[
        "items"
    ]
    (invoice,) = [i for i in invoices if i["subscription_id"] == sub["id"]]
    return invoice  # type: ignore[no-any-return]


async def test_canceling_now_credits_only_the_paid_part_of_the_period(
    shop: Shop, runtime: Runtime, clock: Clock
) -> None:
    start = START
    clock.set(start)
    price = await shop.price(unit_amount=3000, interval="day", interval_count=30)

    unpaid = await shop.subscribe((price["id"], 1))  # its invoice stays open
    clock.set(start + timedelta(days=15))
    assert await cancel_now(shop, unpaid) == []

    clock.set(start)
    voided = await shop.subscribe((price["id"], 1))
    invoice = await period_invoice(shop, voided)
    await ok(await shop.client.post(f"/billing/invoices/{invoice['id']}/void", headers=shop.headers))
    clock.set(start + timedelta(days=15))
    assert await cancel_now(shop, voided) == []

    clock.set(start)
    paid = await shop.subscribe((price["id"], 1))
    invoice = await period_invoice(shop, paid)
    await ok(await shop.client.post(f"/billing/invoices/{invoice['id']}/mark-paid", headers=shop.headers))
    clock.set(start + timedelta(days=15))
    assert await cancel_now(shop, paid) == [-1500]  # half the period unused, all of it paid

    trial_price = await shop.price(unit_amount=3000, interval="day", interval_count=30, trial_period_days=20)
    clock.set(start)
    trialing = await shop.subscribe((trial_price["id"], 1))
    clock.set(start + timedelta(days=5))
    assert await cancel_now(shop, trialing) == []  # a trial is free: nothing to credit


async def test_a_partly_refunded_period_is_credited_in_proportion(
    shop: Shop, runtime: Runtime, clock: Clock
) -> None:
    clock.set(START)
    invoice, payment = await paid_invoice(shop, runtime, unit_amount=1000)
    r = await shop.client.post(
        f"/billing/orgs/{shop.org}/payments/{payment['id']}/refunds",
        json={"amount": 400, "reason": "requested_by_customer"},
        headers=shop.headers,
    )
    await ok(r, 201)
    sub = {"id": invoice["subscription_id"]}
    period = parse(invoice["period_end"]) - parse(invoice["period_start"])
    clock.set(parse(invoice["period_start"]) + period / 2)
    (credit,) = await cancel_now(shop, sub)
    assert credit == -300  # 600 of 1000 kept: 60 % of the unused half


# --- unpriced overage ---------------------------------------------------------------------


async def unpriced_item(shop: Shop, runtime: Runtime, units: int = 12) -> dict[str, Any]:
    key = await soft_quota_with_ondemand(shop, None)
    await ok(await shop.world.usage(shop.org, [event(shop.workspace, key, units)]))
    listed = (await ok(await shop.client.get("/billing/unpriced-usage", headers=shop.headers)))["items"]
    (item,) = [u for u in listed if u["account_id"] == shop.account and u["resource_key"] == key]
    return item  # type: ignore[no-any-return]


async def test_unpriced_overage_is_never_billed_at_zero_and_operators_price_it(
    shop: Shop, runtime: Runtime
) -> None:
    item = await unpriced_item(shop, runtime)
    assert (item["quantity"], item["status"], item["amount"]) == ("2", "open", None)
    assert await usage_charges(runtime, shop.account) == []
    plan = await shop.price(unit_amount=1000)
    sub = await shop.subscribe((plan["id"], 1))
    invoice = await period_invoice(shop, sub)
    assert [line["source"] for line in invoice["lines"]] == ["subscription_item"]  # nothing at 0

    admin = await member(shop, runtime, "billing_admin")
    assert (await shop.client.get("/billing/unpriced-usage", headers=admin)).status_code in (403, 404)
    priced_url = f"/billing/unpriced-usage/{item['id']}/price"
    overage = await shop.price(unit_amount=25, type="one_time", interval=None)
    r = await shop.client.post(priced_url, json={"price_id": overage["id"]}, headers=admin)
    assert r.status_code in (403, 404)
    usd = await shop.price(currency="USD", unit_amount=25)
    r = await shop.client.post(priced_url, json={"price_id": usd["id"]}, headers=shop.headers)
    assert (r.status_code, r.json()["code"]) == (422, "currency_mismatch")

    priced = await ok(
        await shop.client.post(priced_url, json={"price_id": overage["id"]}, headers=shop.headers)
    )
    assert (priced["status"], priced["amount"], priced["price_id"]) == ("priced", 50, overage["id"])
    assert priced["resolved_by"] is not None
    (charge,) = await usage_charges(runtime, shop.account)
    assert (charge["amount"], charge["events"], str(charge["id"])) == (50, 1, priced["pending_charge_id"])
    r = await shop.client.post(priced_url, json={"price_id": overage["id"]}, headers=shop.headers)
    assert (r.status_code, r.json()["code"]) == (409, "unpriced_usage_priced")
    r = await shop.client.post(
        f"/billing/unpriced-usage/{item['id']}/waive", json={"reason": "x"}, headers=shop.headers
    )
    assert r.status_code == 409
    assert await audited(runtime, item["id"]) == [
        "billing.unpriced_usage.created",
        "billing.unpriced_usage.priced",
    ]
    listed = (await ok(await shop.client.get("/billing/unpriced-usage?status=priced", headers=shop.headers)))[
        "items"
    ]
    assert item["id"] in [u["id"] for u in listed]


async def test_operators_waive_unpriced_overage_with_a_reason(shop: Shop, runtime: Runtime) -> None:
    item = await unpriced_item(shop, runtime)
    url = f"/billing/unpriced-usage/{item['id']}/waive"
    assert (await shop.client.post(url, json={}, headers=shop.headers)).status_code == 400
    assert (await shop.client.post(url, json={"reason": ""}, headers=shop.headers)).status_code == 400
    owner = await member(shop, runtime, "owner")
    assert (await shop.client.post(url, json={"reason": "mine"}, headers=owner)).status_code in (403, 404)
    waived = await ok(await shop.client.post(url, json={"reason": "trial customer"}, headers=shop.headers))
    assert (waived["status"], waived["waive_reason"], waived["pending_charge_id"]) == (
        "waived", "trial customer", None,
    )  # fmt: skip
    assert await usage_charges(runtime, shop.account) == []
    open_items = (await ok(await shop.client.get("/billing/unpriced-usage", headers=shop.headers)))["items"]
    assert item["id"] not in [u["id"] for u in open_items]
    assert await audited(runtime, item["id"]) == [
        "billing.unpriced_usage.created",
        "billing.unpriced_usage.waived",
    ]
    r = await shop.client.post(f"/billing/unpriced-usage/{uuid.uuid4()}/waive", json={"reason": "x"},
                               headers=shop.headers)  # fmt: skip
    assert (r.status_code, r.json()["code"]) == (404, "unpriced_usage_not_found")
    async with runtime.engine.connect() as conn:
        with pytest.raises(Exception, match="ck_unpriced_usage_waived"):
            await conn.execute(text("UPDATE billing.unpriced_usage SET waive_reason = NULL WHERE id = :i"),
                               {"i": item["id"]})  # fmt: skip


# --- bounded amounts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "tier",
    [
        {"up_to": None, "unit_amount": 10**15 + 1},
        {"up_to": None, "flat_amount": 10**15 + 1},
        {"up_to": None, "unit_amount": -1},
        {"up_to": 2**63, "unit_amount": 1},
        {"up_to": 0, "unit_amount": 1},
    ],
)
async def test_tier_amounts_and_bounds_are_bounded(shop: Shop, tier: dict[str, Any]) -> None:
    tiers = [tier] if tier["up_to"] is None else [tier, {"up_to": None, "unit_amount": 1}]
    r = await shop.client.post(
        f"/billing/products/{shop.product}/prices",
        json={"currency": "EUR", "interval": "month", "billing_scheme": "tiered", "tiers_mode": "graduated",
              "tiers": tiers},
        headers=shop.headers,
    )  # fmt: skip
    assert r.status_code == 400, r.text


async def test_the_largest_bounded_tier_amount_is_accepted(shop: Shop) -> None:
    price = await shop.price(
        unit_amount=None,
        billing_scheme="tiered",
        tiers_mode="graduated",
        tiers=[{"up_to": 2**63 - 1, "unit_amount": 10**15}, {"up_to": None, "flat_amount": 10**15}],
    )
    assert price["tiers"][0]["unit_amount"] == 10**15
