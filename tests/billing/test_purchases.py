"""One-time purchases: invoiced at once or carried by the next invoice (exactly once), each
provisioning its product's entitlement set into the pool in the same transaction; only active
one-time prices in the account's currency; Idempotency-Key holds under concurrency; voiding the
invoice voids the purchase and revokes its provision. Provisions name sources that exist."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from modules.entitlements import api as ent_api
from platform_core.core.errors import Unprocessable
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.money_back import billing_admin
from tests.billing.test_subscriptions import renew
from tests.entitlements.conftest import Clock, ok, person_headers
from tests.organization.helpers import assert_problem

MAY = datetime(2031, 5, 1, 12, tzinfo=UTC)


async def one_time(shop: Shop, unit_amount: int = 2500, **body: Any) -> dict[str, Any]:
    return await shop.price(unit_amount=unit_amount, type="one_time", interval=None, **body)


async def buy(
    shop: Shop, *items: tuple[str, int], headers: dict[str, str] | None = None, **extra: Any
) -> httpx.Response:
    body = {
        "account_id": shop.account,
        "pool_id": shop.pool,
        "items": [{"price_id": price, "quantity": quantity} for price, quantity in items],
        **extra,
    }
    return await shop.client.post(
        f"/billing/orgs/{shop.org}/purchases", json=body, headers={**shop.headers, **(headers or {})}
    )


async def purchases(shop: Shop) -> list[dict[str, Any]]:
    page = await ok(await shop.client.get(f"/billing/orgs/{shop.org}/purchases", headers=shop.headers))
    result: list[dict[str, Any]] = page["items"]
    return result


async def invoices(shop: Shop) -> list[dict[str, Any]]:
    page = await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers))
    result: list[dict[str, Any]] = page["items"]
    return result


async def count(runtime: Runtime, sql: str, **params: Any) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


async def test_a_purchase_invoiced_now_is_on_an_open_invoice_and_provisions_its_set(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(MAY)
    price = await one_time(shop, 2500)
    order = await ok(await buy(shop, (price["id"], 2)), 201)

    (bought,) = order["purchases"]
    invoice = order["invoice"]
    assert (bought["status"], bought["quantity"], bought["amount"], bought["currency"]) == (
        "completed", 2, 5000, "EUR",
    )  # fmt: skip
    assert (bought["invoice_id"], bought["pending_charge_id"]) == (invoice["id"], None)
    assert (invoice["status"], invoice["total"], invoice["amount_due"]) == ("open", 5000, 5000)
    assert invoice["number"].startswith("KEEL-")
    assert [
        (x["source"], x["source_id"], x["quantity"], x["amount"], x["price_id"]) for x in invoice["lines"]
    ] == [("purchase", bought["id"], 2, 5000, price["id"])]
    assert [i["id"] for i in await invoices(shop)] == [invoice["id"]]

    # the product's set (10 seats per unit) is in the pool, for good: checks say so
    seats = await shop.seats()
    assert (seats["allowed"], seats["limit"]) == (True, "20")
    clock.set(MAY + timedelta(days=3650))
    assert (await shop.seats())["limit"] == "20"

    assert await purchases(shop) == [bought]
    got = await ok(
        await shop.client.get(f"/billing/orgs/{shop.org}/purchases/{bought['id']}", headers=shop.headers)
    )
    assert got == bought
    async with runtime.uow() as uow:
        provision = await ent_api.get_provision(uow, uuid.UUID(bought["provision_id"]))
    assert (provision.source_type, str(provision.source_id), provision.ends_at) == (
        "purchase",
        bought["id"],
        None,
    )
    assert provision.quantity == Decimal(2)


async def test_a_purchase_for_the_next_invoice_is_billed_on_it_once(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(MAY)
    await shop.subscribe(((await shop.price(unit_amount=1000))["id"], 1))
    price = await one_time(shop, 700)
    order = await ok(await buy(shop, (price["id"], 3), invoice_now=False), 201)
    (bought,) = order["purchases"]
    assert order["invoice"] is None
    assert (bought["invoice_id"], bought["amount"]) == (None, 2100)
    assert bought["pending_charge_id"] is not None
    assert len(await invoices(shop)) == 1  # only the subscription's first
    assert (await shop.seats())["limit"] == "40"  # provisioned at once: 1 seat plan + 3 bought

    clock.set(MAY + timedelta(days=31))
    await renew(runtime)
    _, second = await invoices(shop)
    assert [(x["source"], x["source_id"], x["amount"], x["price_id"]) for x in second["lines"]][1:] == [
        ("pending_charge", bought["pending_charge_id"], 2100, price["id"])
    ]
    assert second["total"] == 1000 + 2100
    (listed,) = await purchases(shop)
    assert listed["invoice_id"] == second["id"]

    clock.set(MAY + timedelta(days=62))
    await renew(runtime)
    _, _, third = await invoices(shop)
    assert [x["source"] for x in third["lines"]] == ["subscription_item"]  # billed once only


async def test_only_active_one_time_prices_in_the_accounts_currency_are_sold(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(MAY)
    recurring = await shop.price(unit_amount=1000)
    dollars = await one_time(shop, 900, currency="USD")
    retired = await one_time(shop, 800)
    await ok(
        await shop.client.patch(
            f"/billing/prices/{retired['id']}", json={"active": False}, headers=shop.headers
        )
    )
    good = await one_time(shop, 500)

    assert_problem(await buy(shop, (good["id"], 1), (recurring["id"], 1)), 422, "price_not_one_time")
    assert_problem(await buy(shop, (good["id"], 1), (dollars["id"], 1)), 422, "currency_mismatch")
    assert_problem(await buy(shop, (good["id"], 1), (retired["id"], 1)), 409, "price_inactive")
    assert_problem(await buy(shop, (good["id"], 1), (good["id"], 2)), 422, "duplicate_price")
    assert_problem(await buy(shop, (good["id"], 1), pool_id=None), 422, "pool_required")
    assert_problem(await buy(shop, (str(uuid.uuid4()), 1)), 404, "price_not_found")
    # nothing half-written: no purchase, invoice, pending charge or provision
    assert await purchases(shop) == []
    assert await invoices(shop) == []
    assert (
        await count(
            runtime, "SELECT count(*) FROM billing.pending_charges WHERE account_id = :a", a=shop.account
        )
        == 0
    )
    assert (await shop.seats())["allowed"] is False


async def test_an_idempotent_replay_buys_once(shop: Shop, clock: Clock) -> None:
    clock.set(MAY)
    price = await one_time(shop, 1500)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await buy(shop, (price["id"], 1), headers=key)
    again = await buy(shop, (price["id"], 1), headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert len(await purchases(shop)) == 1
    assert len(await invoices(shop)) == 1
    assert (await shop.seats())["limit"] == "10"


async def test_two_concurrent_requests_with_one_key_buy_once(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(MAY)
    price = await one_time(shop, 1500)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    responses = await asyncio.gather(*(buy(shop, (price["id"], 2), headers=key) for _ in range(2)))
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].json() == responses[1].json()
    (bought,) = await purchases(shop)
    assert bought["id"] == responses[0].json()["purchases"][0]["id"]
    assert len(await invoices(shop)) == 1
    assert (
        await count(
            runtime, "SELECT count(*) FROM entitlements.pool_provisions WHERE pool_id = :p", p=shop.pool
        )
        == 1
    )
    assert (await shop.seats())["limit"] == "20"


async def test_a_billing_admin_buys_and_a_member_cannot(shop: Shop, clock: Clock, runtime: Runtime) -> None:
    clock.set(MAY)
    price = await one_time(shop, 300)
    admin = await billing_admin(shop, runtime)
    r = await shop.client.post(
        f"/billing/orgs/{shop.org}/purchases",
        json={"account_id": shop.account, "pool_id": shop.pool, "items": [{"price_id": price["id"]}]},
        headers=admin,
    )
    assert (await ok(r, 201))["purchases"][0]["created_by"] is not None
    stranger = await person_headers(runtime, "Stranger")
    r = await shop.client.post(
        f"/billing/orgs/{shop.org}/purchases",
        json={"account_id": shop.account, "pool_id": shop.pool, "items": [{"price_id": price["id"]}]},
        headers=stranger,
    )
    assert r.status_code in (403, 404)
    assert len(await purchases(shop)) == 1


async def test_voiding_the_invoice_voids_the_purchase_and_revokes_its_provision(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(MAY)
    price = await one_time(shop, 2500)
    order = await ok(await buy(shop, (price["id"], 1)), 201)
    assert (await shop.seats())["limit"] == "10"
    voided = await ok(
        await shop.client.post(f"/billing/invoices/{order['invoice']['id']}/void", headers=shop.headers)
    )
    assert voided["status"] == "void"
    (bought,) = await purchases(shop)
    assert (bought["status"], bought["voided_at"]) == ("void", "2031-05-01T12:00:00Z")
    seats = await shop.seats()
    assert (seats["allowed"], seats["limit"]) == (False, "0")
    async with runtime.uow() as uow:
        provision = await ent_api.get_provision(uow, uuid.UUID(bought["provision_id"]))
    assert provision.status == "revoked"


async def test_no_provision_claims_a_source_that_does_not_exist(shop: Shop, runtime: Runtime) -> None:
    es = await shop.world.set([{"resource_key": shop.key, "rule_type": "limit", "amount": 1}])
    url = f"/entitlements/orgs/{shop.org}/pools/{shop.pool}/provisions"
    made_up = str(uuid.uuid4())
    body = {"source_type": "subscription", "source_id": made_up, "entitlement_set_id": es["id"]}
    assert_problem(await shop.client.post(url, json=body, headers=shop.headers), 400)
    body["source_type"] = "grant"
    assert_problem(await shop.client.post(url, json=body, headers=shop.headers), 404, "grant_not_found")

    # through entitlements.api: refused, and the transaction stays usable
    for source_type in ("subscription", "purchase"):
        async with runtime.uow() as uow:
            with pytest.raises(Unprocessable) as refused:
                await ent_api.provision(
                    uow,
                    org_id=uuid.UUID(shop.org),
                    pool_id=uuid.UUID(shop.pool),
                    source_type=source_type,
                    source_id=uuid.uuid4(),
                    entitlement_set_id=uuid.UUID(es["id"]),
                )
            assert refused.value.code == "provision_source_not_found"
            assert await ent_api.pool_in_org(uow, uuid.UUID(shop.org), uuid.UUID(shop.pool))

    # in the database itself: a foreign key per source, tied to source_type by CHECKs
    insert = text(
        "INSERT INTO entitlements.pool_provisions (id, org_id, pool_id, source_type, source_id,"
        " subscription_item_id, purchase_id, entitlement_set_id, quantity, starts_at)"
        " VALUES (gen_random_uuid(), :org, :pool, :type, :source, :item, :purchase, :set, 1, now())"
    )
    source = uuid.uuid4()
    cases = [
        ("purchase", None, source, "fk_pool_provisions_purchase_id_purchases"),
        ("subscription", source, None, "fk_pool_provisions_subscription_item_id_subscription_items"),
        ("purchase", None, None, "ck_pool_provisions_purchase_source"),  # the source's column is required
        ("subscription", None, None, "ck_pool_provisions_subscription_source"),
    ]
    for source_type, item, purchase, constraint in cases:
        async with runtime.engine.connect() as conn:
            with pytest.raises(IntegrityError, match=constraint):
                await conn.execute(
                    insert,
                    {"org": shop.org, "pool": shop.pool, "type": source_type, "source": source,
                     "item": item, "purchase": purchase, "set": es["id"]},
                )  # fmt: skip
