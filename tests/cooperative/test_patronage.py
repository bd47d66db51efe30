"""Patronage: every organization with a billing account is a patron; each paid invoice counts
once for its payer; a fiscal year's surplus divides exactly, in proportion."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from modules.billing.contracts import INVOICE_PAID
from platform_core.messaging.events import Event, Subject
from platform_core.runtime.runtime import Runtime
from tests.entitlements.conftest import World, ok, person_headers
from tests.organization.helpers import assert_problem

CURRENCY = "CHF"  # no other test bills in francs: this test's patrons are the only ones


async def paying_member(client: httpx.AsyncClient, headers: dict[str, str], world: World, price: str) -> str:
    """An organization that subscribed to `price` and paid its first invoice."""
    org = await world.org()
    pool = await world.pool(org)
    body = {"name": "Member", "email": "member@example.org", "currency": CURRENCY}
    account = (await ok(await client.post(f"/billing/orgs/{org}/accounts", json=body, headers=headers), 201))[
        "id"
    ]
    sub = {"account_id": account, "pool_id": pool, "items": [{"price_id": price, "quantity": 1}]}
    await ok(await client.post(f"/billing/orgs/{org}/subscriptions", json=sub, headers=headers), 201)
    (invoice,) = (await ok(await client.get(f"/billing/orgs/{org}/invoices", headers=headers)))["items"]
    await ok(await client.post(f"/billing/invoices/{invoice['id']}/mark-paid", headers=headers))
    return org


async def chf_price(client: httpx.AsyncClient, headers: dict[str, str], unit_amount: int) -> str:
    product = {"key": f"membership-{uuid.uuid4().hex[:8]}", "name": "Membership"}
    product_id = (await ok(await client.post("/billing/products", json=product, headers=headers), 201))["id"]
    price = {"currency": CURRENCY, "unit_amount": unit_amount, "interval": "year"}
    r = await client.post(f"/billing/products/{product_id}/prices", json=price, headers=headers)
    return str((await ok(r, 201))["id"])


async def test_paid_invoices_become_patronage_once_and_the_surplus_divides_exactly(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    world = World(client, admin_headers)
    price = await chf_price(client, admin_headers, 1000)
    orgs = [await paying_member(client, admin_headers, world, price) for _ in range(3)]
    year = datetime.now(UTC).year

    mine = await ok(await client.get(f"/cooperative/orgs/{orgs[0]}/patronage", headers=admin_headers))
    assert mine["totals"] == [{"fiscal_year": year, "currency": CURRENCY, "amount": 1000}]
    assert mine["patron"]["member_number"] >= 1

    # the same outcome announced again (a replayed event) counts once
    (invoice,) = (await ok(await client.get(f"/billing/orgs/{orgs[0]}/invoices", headers=admin_headers)))[
        "items"
    ]
    async with runtime.uow() as uow:
        await uow.publish(
            Event(
                type=INVOICE_PAID,
                subject=Subject(type="invoice", id=invoice["id"], name=invoice["number"]),
                data={
                    "number": invoice["number"], "account_id": invoice["account_id"], "currency": CURRENCY,
                    "total": 1000, "amount_due": 1000, "amount_paid": 1000,
                },
                org_id=uuid.UUID(orgs[0]),
            )
        )  # fmt: skip
    again = await ok(await client.get(f"/cooperative/orgs/{orgs[0]}/patronage", headers=admin_headers))
    assert again["totals"] == mine["totals"]

    params: dict[str, Any] = {"fiscal_year": year, "currency": CURRENCY, "surplus": 100}
    report = await ok(
        await client.get("/cooperative/allocations/preview", params=params, headers=admin_headers)
    )
    assert report["total_patronage"] == 3000
    shares = {a["org_id"]: a["share"] for a in report["allocations"]}
    assert sorted(shares.values()) == [33, 33, 34]
    assert sum(shares.values()) == 100
    first = min(report["allocations"], key=lambda a: a["member_number"])
    assert first["share"] == 34  # the leftover unit goes to the lowest member number among equals
    unpaid = await ok(
        await client.get(
            "/cooperative/allocations/preview",
            params={**params, "fiscal_year": year - 5},
            headers=admin_headers,
        )
    )
    assert (unpaid["total_patronage"], unpaid["allocations"]) == (0, [])


async def test_patronage_is_private_and_allocations_are_for_operators(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    world = World(client, admin_headers)
    org = await world.org()
    assert_problem(
        await client.get(f"/cooperative/orgs/{org}/patronage", headers=admin_headers), 404, "patron_not_found"
    )
    stranger = await person_headers(runtime, "Stranger")
    assert_problem(await client.get(f"/cooperative/orgs/{org}/patronage", headers=stranger), 404)
    params = {"fiscal_year": 2030, "currency": CURRENCY, "surplus": 1}
    assert_problem(await client.get("/cooperative/allocations/preview", params=params, headers=stranger), 403)
    assert_problem(await client.get("/cooperative/patrons", headers=stranger), 403)
    bad = {"fiscal_year": 2030, "currency": "chf", "surplus": -1}
    assert_problem(
        await client.get("/cooperative/allocations/preview", params=bad, headers=admin_headers), 400
    )
