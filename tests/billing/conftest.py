"""Builders for billing tests: a catalog (entitlement set, product, prices), an organization
with a workspace in a pool and a billing account, all over HTTP; and a clock that billing and
entitlements both read."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from platform_core.core.clock import set_source
from tests.entitlements.conftest import Clock, World, ok
from tests.support.payments import fake_stripe  # noqa: F401  (fixture: the `stripe` provider's fake)


@pytest.fixture
def clock() -> Iterator[Clock]:
    """The time every module reads (platform_core.core.clock), set by the test."""
    c = Clock()
    set_source(c)
    yield c
    set_source(None)


@dataclass
class Shop:
    """One organization (its owner is the suite's admin) with a workspace in a pool and a EUR
    billing account, and a product giving `seats` = 10 per unit of quantity."""

    client: httpx.AsyncClient
    headers: dict[str, str]
    world: World
    org: str
    workspace: str
    pool: str
    account: str
    product: str
    key: str

    async def price(self, **body: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {"currency": "EUR", "unit_amount": 1000, "interval": "month", **body}
        r = await self.client.post(
            f"/billing/products/{self.product}/prices", json=fields, headers=self.headers
        )
        result: dict[str, Any] = await ok(r, 201)
        return result

    async def subscribe(self, *items: tuple[str, int], **extra: Any) -> dict[str, Any]:
        r = await self.subscribe_raw(*items, **extra)
        result: dict[str, Any] = await ok(r, 201)
        return result

    async def subscribe_raw(
        self, *items: tuple[str, int], headers: dict[str, str] | None = None, **extra: Any
    ) -> httpx.Response:
        body = {
            "account_id": self.account,
            "pool_id": self.pool,
            "items": [{"price_id": price, "quantity": quantity} for price, quantity in items],
            **extra,
        }
        return await self.client.post(
            f"/billing/orgs/{self.org}/subscriptions", json=body, headers={**self.headers, **(headers or {})}
        )

    def url(self, subscription_id: str, tail: str = "") -> str:
        return f"/billing/orgs/{self.org}/subscriptions/{subscription_id}{tail}"

    async def seats(self) -> dict[str, Any]:
        return await self.world.check(self.workspace, self.key)

    async def changes(self, subscription_id: str) -> list[dict[str, Any]]:
        page = await ok(
            await self.client.get(self.url(subscription_id, "/changes?limit=500"), headers=self.headers)
        )
        result: list[dict[str, Any]] = page["items"]
        return result


@pytest.fixture
async def shop(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Shop:
    world = World(client, admin_headers)
    key = await world.key(aggregation="MAX")
    entitlement_set = await world.set([{"resource_key": key, "rule_type": "limit", "amount": 10}])
    r = await client.post(
        "/billing/products",
        json={
            "key": f"team-{uuid.uuid4().hex[:8]}",
            "name": "Team",
            "entitlement_set_key": entitlement_set["key"],
        },
        headers=admin_headers,
    )
    product = (await ok(r, 201))["id"]
    org = await world.org()
    workspace = await world.workspace(org)
    pool = await world.pool(org)
    await world.assign(org, pool, workspace)
    r = await client.post(
        f"/billing/orgs/{org}/accounts",
        json={"name": "Acme Billing", "email": "Billing@Acme.example", "currency": "EUR"},
        headers=admin_headers,
    )
    account = (await ok(r, 201))["id"]
    return Shop(client, admin_headers, world, org, workspace, pool, account, product, key)
