"""Refused billing inputs: clear problems, never a partial write; other organizations and
non-operators see nothing of the catalog's or a tenant's billing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.billing.conftest import Shop
from tests.entitlements.conftest import ok, person_headers
from tests.organization.helpers import assert_problem


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"currency": "EUR", "unit_amount": 100}, 422, "invalid_price"),  # recurring needs an interval
        ({"currency": "EUR", "unit_amount": 1, "type": "one_time", "interval": "week"}, 422, "invalid_price"),
        ({"currency": "EUR", "interval": "month"}, 422, "invalid_price"),  # per_unit without an amount
        ({"currency": "EUR", "interval": "month", "unit_amount": 1, "usage_type": "metered"}, 422,
         "invalid_price"),
        (
            {"currency": "EUR", "interval": "month", "billing_scheme": "tiered", "tiers_mode": "volume",
             "tiers": [{"up_to": 5, "unit_amount": 1}]},
            422, "invalid_tiers",
        ),
        ({"currency": "eur", "interval": "month", "unit_amount": 1}, 400, "invalid_request"),
        ({"currency": "EUR", "interval": "month", "unit_amount": -1}, 400, "invalid_request"),
        ({"currency": "EUR", "interval": "fortnight", "unit_amount": 1}, 400, "invalid_request"),
    ],
)  # fmt: skip
async def test_malformed_prices_are_refused(shop: Shop, body: dict[str, Any], status: int, code: str) -> None:
    url = f"/billing/products/{shop.product}/prices"
    assert_problem(await shop.client.post(url, json=body, headers=shop.headers), status, code)
    assert (await ok(await shop.client.get(url, headers=shop.headers)))["items"] == []


async def test_subscriptions_that_cannot_be_billed_together_are_refused(shop: Shop) -> None:
    monthly = await shop.price()
    yearly = await shop.price(interval="year")
    dollars = await shop.price(currency="USD")
    once = await shop.price(type="one_time", interval=None)
    retired = await shop.price()
    await ok(
        await shop.client.patch(
            f"/billing/prices/{retired['id']}", json={"active": False}, headers=shop.headers
        )
    )
    cases = [
        (((monthly["id"], 1), (yearly["id"], 1)), 422, "mixed_intervals"),
        (((dollars["id"], 1),), 422, "currency_mismatch"),
        (((once["id"], 1),), 422, "price_not_recurring"),
        (((retired["id"], 1),), 409, "price_inactive"),
        (((monthly["id"], 1), (monthly["id"], 2)), 422, "duplicate_price"),
        (((str(uuid.uuid4()), 1),), 404, "price_not_found"),
        (((monthly["id"], 0),), 400, "invalid_request"),
    ]
    for items, status, code in cases:
        assert_problem(await shop.subscribe_raw(*items), status, code)
    assert_problem(
        await shop.subscribe_raw((monthly["id"], 1), pool_id=str(uuid.uuid4())), 404, "pool_not_found"
    )
    assert_problem(
        await shop.subscribe_raw((monthly["id"], 1), account_id=str(uuid.uuid4())),
        404,
        "billing_account_not_found",
    )
    listed = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/subscriptions", headers=shop.headers))
    )["items"]
    assert listed == []
    assert (await shop.seats())["limit"] == "0"  # nothing was provisioned by any of them


async def test_one_account_per_organization(shop: Shop) -> None:
    body = {"name": "Second", "email": "second@acme.example", "currency": "EUR"}
    r = await shop.client.post(f"/billing/orgs/{shop.org}/accounts", json=body, headers=shop.headers)
    assert_problem(r, 409, "billing_account_exists")
    (account,) = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/accounts", headers=shop.headers))
    )["items"]
    assert account["email"] == "billing@acme.example"


async def test_tenants_and_non_operators_are_kept_out(
    shop: Shop, client: httpx.AsyncClient, runtime: Any, admin_headers: dict[str, str]
) -> None:
    price = await shop.price()
    sub = await shop.subscribe((price["id"], 1))
    stranger = await person_headers(runtime, "Stranger")
    for r in (
        await client.get(f"/billing/orgs/{shop.org}/subscriptions", headers=stranger),
        await client.get(shop.url(sub["id"]), headers=stranger),
        await client.post(shop.url(sub["id"], "/cancel"), json={}, headers=stranger),
        await client.get(f"/billing/orgs/{shop.org}/accounts/{shop.account}", headers=stranger),
    ):
        assert_problem(r, 404)
    # the catalog is for operators only
    assert_problem(await client.get("/billing/products", headers=stranger), 403)
    r = await client.post("/billing/products", json={"key": "sneaky", "name": "S"}, headers=stranger)
    assert_problem(r, 403)
    # another organization's ids in this organization's paths: not found
    other_org = await shop.world.org()
    assert_problem(
        await client.get(f"/billing/orgs/{other_org}/subscriptions/{sub['id']}", headers=admin_headers), 404
    )
