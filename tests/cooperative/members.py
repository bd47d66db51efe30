"""Builders for allocation tests: members that paid an invoice in a currency no other test
bills in (approving a fiscal year in a currency moves every later event of that currency to
the next year, so each test keeps its own), over HTTP."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
from sqlalchemy import text

from platform_core.runtime.runtime import Runtime
from tests.billing.test_payments import intent
from tests.entitlements.conftest import World, ok
from tests.integration.test_inbound_webhooks import stripe_post

YEAR = datetime.now(UTC).year


@dataclass
class Member:
    org: str
    account: str
    invoice: dict[str, Any]


class Cooperative:
    def __init__(
        self, client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, currency: str
    ) -> None:
        self.client, self.headers, self.runtime, self.currency = client, headers, runtime, currency
        self.world = World(client, headers)

    async def price(self, unit_amount: int) -> str:
        product = {"key": f"share-{uuid.uuid4().hex[:8]}", "name": "Share"}
        r = await self.client.post("/billing/products", json=product, headers=self.headers)
        product_id = (await ok(r, 201))["id"]
        body = {"currency": self.currency, "unit_amount": unit_amount, "interval": "year"}
        r = await self.client.post(f"/billing/products/{product_id}/prices", json=body, headers=self.headers)
        return str((await ok(r, 201))["id"])

    async def member(self, unit_amount: int, *, via_stripe: bool = False, pay: bool = True) -> Member:
        """An organization that subscribed at `unit_amount` a year and paid its first invoice
        (recorded by an operator, or by Stripe's payment_intent.succeeded; open: `pay` False)."""
        org = await self.world.org()
        pool = await self.world.pool(org)
        body = {"name": "Member", "email": "member@example.org", "currency": self.currency}
        r = await self.client.post(f"/billing/orgs/{org}/accounts", json=body, headers=self.headers)
        account = (await ok(r, 201))["id"]
        price = await self.price(unit_amount)
        sub = {"account_id": account, "pool_id": pool, "items": [{"price_id": price, "quantity": 1}]}
        await ok(
            await self.client.post(f"/billing/orgs/{org}/subscriptions", json=sub, headers=self.headers), 201
        )
        (invoice,) = await self.invoices(org)
        if not pay:
            pass
        elif via_stripe:
            await self.deliver(intent(invoice["amount_due"], invoice["id"], currency=self.currency.lower()))
        else:
            r = await self.client.post(f"/billing/invoices/{invoice['id']}/mark-paid", headers=self.headers)
            await ok(r)
        return Member(org, account, invoice)

    async def invoices(self, org: str) -> list[dict[str, Any]]:
        body = await ok(await self.client.get(f"/billing/orgs/{org}/invoices", headers=self.headers))
        items: list[dict[str, Any]] = body["items"] if isinstance(body, dict) else body
        return items

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

    async def patronage(self, org: str) -> dict[int, int]:
        """The organization's patronage per fiscal year, in this currency."""
        mine = await ok(await self.client.get(f"/cooperative/orgs/{org}/patronage", headers=self.headers))
        return {t["fiscal_year"]: t["amount"] for t in mine["totals"] if t["currency"] == self.currency}

    async def compute(self, surplus: int, year: int = YEAR) -> httpx.Response:
        body = {"fiscal_year": year, "currency": self.currency, "surplus": surplus}
        return await self.client.post("/cooperative/allocations", json=body, headers=self.headers)

    async def approve(self, allocation_id: str) -> httpx.Response:
        return await self.client.post(
            f"/cooperative/allocations/{allocation_id}/approve", headers=self.headers
        )

    async def rows(self, allocation_id: str, **params: Any) -> list[dict[str, Any]]:
        """Every row, walking the pages."""
        url, found, cursor = f"/cooperative/allocations/{allocation_id}/rows", [], None
        while True:
            query = {**params, **({"cursor": cursor} if cursor else {})}
            page = await ok(await self.client.get(url, params=query, headers=self.headers))
            found.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return found

    async def pay(self, allocation_id: str, row_id: str, **body: Any) -> httpx.Response:
        url = f"/cooperative/allocations/{allocation_id}/rows/{row_id}/pay"
        return await self.client.post(url, json=body, headers=self.headers)
