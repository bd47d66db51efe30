"""Stripe reports a payment through integration's inbound webhooks; billing settles the named
invoice once, credits an overpayment, and keeps whatever it cannot match for an operator."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import msgspec
from sqlalchemy import text

from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.entitlements.conftest import ok
from tests.integration.test_inbound_webhooks import stripe_post


def intent(amount: int, invoice_id: str | None, currency: str = "eur") -> bytes:
    return msgspec.json.encode(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": "payment_intent.succeeded",
            "data": {
                "object": {
                    "id": f"pi_{uuid.uuid4().hex}",
                    "amount_received": amount,
                    "currency": currency,
                    "metadata": {"keel_invoice_id": invoice_id} if invoice_id else {},
                }
            },
        }
    )


async def deliver(shop: Shop, runtime: Runtime, body: bytes) -> None:
    r = await shop.client.post("/integration/webhooks/stripe", content=body, headers=stripe_post(body))
    assert r.status_code == 200, r.text
    external_id = msgspec.json.decode(body)["id"]
    deadline = time.monotonic() + 10
    while True:
        async with runtime.engine.connect() as conn:
            status = await conn.scalar(
                text("SELECT status FROM integration.webhook_events WHERE external_event_id = :e"),
                {"e": external_id},
            )
        if status != "received":
            assert status == "processed", status
            return
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def payments(shop: Shop) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/payments", headers=shop.headers))
    )["items"]
    return result


async def test_a_stripe_payment_settles_its_invoice_once_and_credits_the_rest(
    shop: Shop, runtime: Runtime
) -> None:
    price = await shop.price(unit_amount=1000)
    await shop.subscribe((price["id"], 1))
    (invoice,) = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers))
    )["items"]
    body = intent(1200, invoice["id"])

    await deliver(shop, runtime, body)
    replay = await shop.client.post("/integration/webhooks/stripe", content=body, headers=stripe_post(body))
    assert replay.json()["duplicate"] is True

    paid = await ok(
        await shop.client.get(f"/billing/orgs/{shop.org}/invoices/{invoice['id']}", headers=shop.headers)
    )
    assert (paid["status"], paid["amount_paid"]) == ("paid", 1000)
    (payment,) = await payments(shop)
    assert (payment["status"], payment["amount"], payment["currency"], payment["invoice_id"]) == (
        "succeeded", 1200, "EUR", invoice["id"],
    )  # fmt: skip
    # the 200 paid beyond it is the account's credit, granted once
    url = f"/billing/orgs/{shop.org}/accounts/{shop.account}/credit-balance"
    balance = await ok(await shop.client.get(url, headers=shop.headers))
    assert balance["balances"] == [{"currency": "EUR", "balance": 200, "available": 200}]
    (credit,) = balance["grants"]
    assert (credit["source_type"], credit["source_id"], credit["category"]) == (
        "overpayment",
        payment["id"],
        "paid",
    )


async def test_payments_that_settle_nothing_are_kept_unmatched(shop: Shop, runtime: Runtime) -> None:
    price = await shop.price(unit_amount=1000)
    await shop.subscribe((price["id"], 1))
    (invoice,) = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers))
    )["items"]
    await deliver(shop, runtime, intent(1000, invoice["id"], currency="usd"))
    await deliver(shop, runtime, intent(999, invoice["id"]))
    still = await ok(
        await shop.client.get(f"/billing/orgs/{shop.org}/invoices/{invoice['id']}", headers=shop.headers)
    )
    assert still["status"] == "open"
    notes = sorted(p["note"] for p in await payments(shop))
    assert notes == [
        f"999 does not cover the 1000 due on {invoice['number']}",
        f"invoice {invoice['number']} is in EUR, the payment in USD",
    ]
    await deliver(shop, runtime, intent(500, str(uuid.uuid4())))  # an invoice Keel never issued
    unmatched = (await ok(await shop.client.get("/billing/payments/unmatched", headers=shop.headers)))[
        "items"
    ]
    orphan = [p for p in unmatched if p["amount"] == 500 and p["invoice_id"] is None]
    assert len(orphan) == 1
    assert orphan[0]["note"].startswith("invoice ")
    assert orphan[0]["note"].endswith(" does not exist")
