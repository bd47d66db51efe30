"""Negative patronage: a succeeded refund, the credited part of a paid invoice and a lost
dispute each subtract once (replays change nothing), so a member's patronage is what it paid
minus what it got back, and the allocation of a surplus still adds up exactly."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
from sqlalchemy import text

from modules.billing.contracts import REFUND_UPDATED
from platform_core.messaging.events import Event, Subject
from platform_core.runtime.runtime import Runtime
from tests.billing.money_back import stripe_event
from tests.billing.test_payments import intent
from tests.entitlements.conftest import World, ok
from tests.integration.test_inbound_webhooks import stripe_post

CURRENCY = "SEK"  # no other test bills in kronor: these patrons are the only ones in the report


class Member:
    def __init__(
        self, client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, org: str
    ) -> None:
        self.client, self.headers, self.runtime, self.org = client, headers, runtime, org

    async def stripe(self, event_type: str, obj: dict[str, Any]) -> None:
        await self.deliver(stripe_event(event_type, obj))

    async def deliver(self, body: bytes) -> None:
        r = await self.client.post("/integration/webhooks/stripe", content=body, headers=stripe_post(body))
        assert r.status_code == 200, r.text
        external_id = msgspec.json.decode(body)["id"]
        deadline = time.monotonic() + 10
        while True:
            async with self.runtime.engine.connect() as conn:
                status = await conn.scalar(
                    text("SELECT status FROM integration.webhook_events WHERE external_event_id = :e"),
                    {"e": external_id},
                )
            if status != "received":
                assert status == "processed", status
                return
            assert time.monotonic() < deadline

    async def patronage(self) -> int:
        mine = await ok(
            await self.client.get(f"/cooperative/orgs/{self.org}/patronage", headers=self.headers)
        )
        return sum(t["amount"] for t in mine["totals"] if t["currency"] == CURRENCY)


async def paying_member(
    client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, price: str
) -> tuple[Member, dict[str, Any], dict[str, Any]]:
    """An organization whose first invoice Stripe paid: (member, invoice, payment)."""
    world = World(client, headers)
    org = await world.org()
    pool = await world.pool(org)
    body = {"name": "Member", "email": "member@example.org", "currency": CURRENCY}
    account = (await ok(await client.post(f"/billing/orgs/{org}/accounts", json=body, headers=headers), 201))[
        "id"
    ]
    sub = {"account_id": account, "pool_id": pool, "items": [{"price_id": price, "quantity": 1}]}
    await ok(await client.post(f"/billing/orgs/{org}/subscriptions", json=sub, headers=headers), 201)
    (invoice,) = (await ok(await client.get(f"/billing/orgs/{org}/invoices", headers=headers)))["items"]
    member = Member(client, headers, runtime, org)
    await member.deliver(intent(invoice["amount_due"], invoice["id"], currency="sek"))
    (payment,) = (await ok(await client.get(f"/billing/orgs/{org}/payments", headers=headers)))["items"]
    return member, invoice, payment


async def test_refunds_credits_and_lost_disputes_subtract_once_and_the_surplus_still_divides_exactly(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    product = {"key": f"share-{uuid.uuid4().hex[:8]}", "name": "Share"}
    product_id = (await ok(await client.post("/billing/products", json=product, headers=admin_headers), 201))[
        "id"
    ]
    price_body = {"currency": CURRENCY, "unit_amount": 1000, "interval": "year"}
    r = await client.post(f"/billing/products/{product_id}/prices", json=price_body, headers=admin_headers)
    price = (await ok(r, 201))["id"]
    (a, _, pay_a), (b, inv_b, _), (c, _, pay_c) = [
        await paying_member(client, admin_headers, runtime, price) for _ in range(3)
    ]

    # a: 300 refunded (counts when it succeeds, once even if Stripe says so twice)
    url = f"/billing/orgs/{a.org}/payments/{pay_a['id']}/refunds"
    refund = await ok(
        await client.post(
            url, json={"reason": "requested_by_customer", "amount": 300}, headers=admin_headers
        ),
        201,
    )
    assert await a.patronage() == 1000
    answer = {
        "id": f"re_{uuid.uuid4().hex}", "amount": 300, "currency": "sek", "status": "succeeded",
        "payment_intent": pay_a["provider_payment_id"], "metadata": {"keel_refund_id": refund["id"]},
    }  # fmt: skip
    await a.stripe("refund.updated", answer)
    await a.stripe("refund.updated", answer)
    assert await a.patronage() == 700
    # the refund announced again (a replayed event) still counts once
    async with runtime.uow() as uow:
        done = (await ok(await client.get(url, headers=admin_headers)))["items"][0]
        await uow.publish(
            Event(
                type=REFUND_UPDATED,
                subject=Subject(type="refund", id=done["id"], name=done["provider_refund_id"]),
                data={**done, "previous_status": "pending"},
                org_id=uuid.UUID(a.org),
            )
        )
    assert await a.patronage() == 700

    # b: 450 credited on its paid invoice (as credit for its next invoice)
    r = await client.post(
        f"/billing/invoices/{inv_b['id']}/credit-notes", json={"reason": "order_change", "amount": 450},
        headers=admin_headers,
    )  # fmt: skip
    await ok(r, 201)
    assert await b.patronage() == 550

    # c: a lost dispute of 200
    lost = {
        "id": f"dp_{uuid.uuid4().hex}", "amount": 200, "currency": "sek", "reason": "fraudulent",
        "status": "lost", "payment_intent": pay_c["provider_payment_id"],
    }  # fmt: skip
    await c.stripe("charge.dispute.closed", lost)
    await c.stripe("charge.dispute.closed", lost)
    assert await c.patronage() == 800

    year = datetime.now(UTC).year
    params: dict[str, Any] = {"fiscal_year": year, "currency": CURRENCY, "surplus": 1001}
    report = await ok(
        await client.get("/cooperative/allocations/preview", params=params, headers=admin_headers)
    )
    assert report["total_patronage"] == 700 + 550 + 800
    shares = {x["org_id"]: (x["patronage"], x["share"]) for x in report["allocations"]}
    assert (shares[a.org][0], shares[b.org][0], shares[c.org][0]) == (700, 550, 800)
    assert sum(share for _, share in shares.values()) == 1001  # whole units, exactly the surplus
    # 1001 x 700, 550, 800 / 2050 = 341.80, 268.56, 390.63: the two units left go to the largest
    # remainders (a's, then c's)
    assert (shares[a.org][1], shares[b.org][1], shares[c.org][1]) == (342, 268, 391)
