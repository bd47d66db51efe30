"""Invoices: a paid period is invoiced in advance with the account's prorations, numbers are
gapless across concurrent finalizations, a finalized invoice never changes, and credits are
carried forward rather than lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.test_subscriptions import renew
from tests.entitlements.conftest import Clock, ok, person_headers
from tests.organization.helpers import assert_problem

APRIL = datetime(2031, 4, 1, 12, tzinfo=UTC)


async def invoices(shop: Shop) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers))
    )["items"]
    return result


async def test_each_period_is_invoiced_in_advance_with_the_prorations(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    price = await shop.price(unit_amount=1000)
    sub = await shop.subscribe((price["id"], 3))
    (first,) = await invoices(shop)
    assert (first["status"], first["total"], first["amount_due"], first["currency"]) == (
        "open",
        3000,
        3000,
        "EUR",
    )
    assert first["number"].startswith("KEEL-")
    assert (first["period_start"], first["period_end"]) == ("2031-04-01T12:00:00Z", "2031-05-01T12:00:00Z")
    assert [(line["source"], line["quantity"], line["amount"]) for line in first["lines"]] == [
        ("subscription_item", 3, 3000)
    ]

    clock.set(APRIL + timedelta(days=10))
    await ok(
        await shop.client.patch(
            shop.url(sub["id"], f"/items/{sub['items'][0]['id']}"), json={"quantity": 5}, headers=shop.headers
        )
    )
    assert len(await invoices(shop)) == 1  # prorations wait for the next invoice
    clock.set(APRIL + timedelta(days=30, minutes=1))
    await renew(runtime)
    _, second = await invoices(shop)
    assert [(line["source"], line["amount"]) for line in second["lines"]] == [
        ("subscription_item", 5000), ("pending_charge", -2000), ("pending_charge", 3333),
    ]  # fmt: skip
    assert (second["total"], second["period_start"]) == (6333, "2031-05-01T12:00:00Z")


async def test_credit_beyond_the_invoice_is_carried_forward(
    shop: Shop, clock: Clock, runtime: Runtime
) -> None:
    clock.set(APRIL)
    price = await shop.price(unit_amount=3000)
    sub = await shop.subscribe((price["id"], 1))
    (first,) = await invoices(shop)
    await ok(await shop.client.post(f"/billing/invoices/{first['id']}/mark-paid", headers=shop.headers))
    cheap = await shop.price(unit_amount=100)
    clock.set(APRIL + timedelta(days=15))
    await ok(
        await shop.client.post(
            shop.url(sub["id"], "/cancel"), json={"at_period_end": False}, headers=shop.headers
        )
    )
    # the unused, paid half month (-1500) meets a new, cheaper subscription's first invoice (100)
    await shop.subscribe((cheap["id"], 1))
    newest = (await invoices(shop))[-1]
    assert [(line["description"], line["amount"]) for line in newest["lines"]][1:] == [
        (f"Unused time on 1 x price {price['id']}", -1500), ("Credit carried forward", 1400),
    ]  # fmt: skip
    assert (newest["total"], newest["amount_due"], newest["status"]) == (0, 0, "paid")
    # nothing lost: the 1400 is the account's credit (a grant, once for this invoice)
    url = f"/billing/orgs/{shop.org}/accounts/{shop.account}/credit-balance"
    (carried,) = (await ok(await shop.client.get(url, headers=shop.headers)))["grants"]
    assert (carried["source_type"], carried["source_id"], carried["remaining"]) == (
        "carried_credit", newest["id"], 1400,
    )  # fmt: skip


async def test_numbers_are_gapless_under_concurrent_finalizations(shop: Shop, runtime: Runtime) -> None:
    price = await shop.price()
    pools = [shop.pool]
    for _ in range(7):
        pools.append(await shop.world.pool(shop.org))
    results = await asyncio.gather(*(shop.subscribe_raw((price["id"], 1), pool_id=pool) for pool in pools))
    assert all(r.status_code == 201 for r in results)
    async with runtime.engine.connect() as conn:
        numbers = sorted(
            int(n.removeprefix("KEEL-"))
            for n in (await conn.scalars(text("SELECT number FROM billing.invoices"))).all()
        )
        next_number = await conn.scalar(text("SELECT next_number FROM billing.invoice_number_sequences"))
    assert numbers == list(range(1, len(numbers) + 1))  # every invoice ever issued in this database
    assert next_number == len(numbers) + 1


async def test_a_finalized_invoice_never_changes(shop: Shop, runtime: Runtime) -> None:
    price = await shop.price()
    await shop.subscribe((price["id"], 1))
    (invoice,) = await invoices(shop)
    for statement in (
        "UPDATE billing.invoices SET total = 1, subtotal = 1, amount_due = 1 WHERE id = :i",
        "UPDATE billing.invoices SET number = 'KEEL-999999' WHERE id = :i",
        "DELETE FROM billing.invoices WHERE id = :i",
        "UPDATE billing.invoice_line_items SET amount = 1 WHERE invoice_id = :i",
        "DELETE FROM billing.invoice_line_items WHERE invoice_id = :i",
    ):
        with pytest.raises(DBAPIError):
            async with runtime.engine.begin() as conn:
                await conn.execute(text(statement), {"i": invoice["id"]})
    assert (await invoices(shop)) == [invoice]


async def test_operators_record_payments_and_void(shop: Shop, runtime: Runtime) -> None:
    price = await shop.price()
    await shop.subscribe((price["id"], 2))
    pool = await shop.world.pool(shop.org)
    await shop.subscribe_raw((price["id"], 1), pool_id=pool)
    paid, voided = await invoices(shop)
    r = await shop.client.post(f"/billing/invoices/{paid['id']}/mark-paid", headers=shop.headers)
    assert ((await ok(r))["status"], r.json()["amount_paid"]) == ("paid", 2000)
    again = await shop.client.post(f"/billing/invoices/{paid['id']}/mark-paid", headers=shop.headers)
    assert (await ok(again))["paid_at"] == r.json()["paid_at"]
    assert_problem(
        await shop.client.post(f"/billing/invoices/{paid['id']}/void", headers=shop.headers),
        409,
        "invoice_paid",
    )
    r = await shop.client.post(f"/billing/invoices/{voided['id']}/void", headers=shop.headers)
    assert (await ok(r))["status"] == "void"
    assert_problem(
        await shop.client.post(f"/billing/invoices/{voided['id']}/mark-paid", headers=shop.headers),
        409,
        "invoice_void",
    )
    stranger = await person_headers(runtime, "Stranger")
    assert_problem(
        await shop.client.post(f"/billing/invoices/{voided['id']}/mark-paid", headers=stranger), 403
    )
    assert_problem(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=stranger), 404)
