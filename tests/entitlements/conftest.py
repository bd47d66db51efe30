"""Builders for entitlements tests: organizations and workspaces through organization's HTTP
routes, the catalog and pools through entitlements's, and a controllable clock."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from modules.identity import api as identity_api
from platform_core.core.clock import set_source
from platform_core.runtime.runtime import Runtime

_seq = itertools.count(1)
FOREVER = "2999-01-01T00:00:00Z"  # a grant's end later than any test's clock


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Clock:
    """Replaces platform_core.core.clock.utcnow everywhere entitlements reads it."""

    def __init__(self) -> None:
        self.now: datetime | None = None

    def __call__(self) -> datetime:
        return self.now if self.now is not None else datetime.now(UTC)

    def set(self, when: datetime) -> None:
        self.now = when


@pytest.fixture
def clock() -> Iterator[Clock]:
    """The time every module reads (platform_core.core.clock), set by the test."""
    c = Clock()
    set_source(c)
    yield c
    set_source(None)


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


class World:
    """One organization with a workspace whose pool has capacity, built over HTTP."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    async def org(self) -> str:
        r = await self.client.post(
            "/organizations", json={"slug": unique("org"), "name": "Org"}, headers=self.headers
        )
        return str((await ok(r, 201))["id"])

    async def workspace(self, org_id: str) -> str:
        r = await self.client.post(
            f"/orgs/{org_id}/workspaces", json={"slug": unique("ws"), "name": "WS"}, headers=self.headers
        )
        return str((await ok(r, 201))["id"])

    async def key(self, kind: str = "numeric", aggregation: str | None = "SUM", **extra: Any) -> str:
        key = f"k.{next(_seq)}.{uuid.uuid4().hex[:6]}"
        body: dict[str, Any] = {"key": key, "name": key, "kind": kind, **extra}
        if kind == "numeric":
            body["aggregation"] = aggregation
        await ok(await self.client.post("/entitlements/resource-keys", json=body, headers=self.headers), 201)
        return key

    async def set(self, rules: list[dict[str, Any]]) -> dict[str, Any]:
        key = f"set.{next(_seq)}.{uuid.uuid4().hex[:6]}"
        r = await self.client.post(
            "/entitlements/sets", json={"key": key, "name": key, "rules": rules}, headers=self.headers
        )
        result: dict[str, Any] = await ok(r, 201)
        return result

    async def pool(self, org_id: str) -> str:
        r = await self.client.post(
            f"/entitlements/orgs/{org_id}/pools", json={"name": unique("pool")}, headers=self.headers
        )
        return str((await ok(r, 201))["id"])

    async def assign(self, org_id: str, pool_id: str, ws: str) -> None:
        r = await self.client.put(
            f"/entitlements/orgs/{org_id}/pools/{pool_id}/workspaces/{ws}", headers=self.headers
        )
        await ok(r)

    async def grant(
        self, org_id: str, pool_id: str, set_id: str, ends_at: str, **extra: Any
    ) -> dict[str, Any]:
        body = {
            "pool_id": pool_id,
            "entitlement_set_id": set_id,
            "reason": "test",
            "ends_at": ends_at,
            **extra,
        }
        r = await self.client.post(f"/entitlements/orgs/{org_id}/grants", json=body, headers=self.headers)
        result: dict[str, Any] = await ok(r, 201)
        return result

    async def provision(self, org_id: str, pool_id: str, set_id: str, **extra: Any) -> dict[str, Any]:
        """The set provisioned into the pool by a grant, the one source an operator creates by
        hand (a provision names a source that exists); it lasts until `ends_at`, by default
        beyond any test's clock. Returns the grant."""
        return await self.grant(org_id, pool_id, set_id, extra.pop("ends_at", FOREVER), **extra)

    async def setup(
        self, rules: list[dict[str, Any]], **provision: Any
    ) -> tuple[str, str, str, dict[str, Any]]:
        """org, pool, workspace (assigned), and the set provisioned (by a grant)."""
        org = await self.org()
        ws = await self.workspace(org)
        pool = await self.pool(org)
        await self.assign(org, pool, ws)
        es = await self.set(rules)
        await self.provision(org, pool, es["id"], **provision)
        return org, pool, ws, es

    async def usage(self, org_id: str, events: list[dict[str, Any]], **headers: str) -> httpx.Response:
        return await self.client.post(
            "/entitlements/usage-events",
            params={"org_id": org_id},
            json={"events": events},
            headers={**self.headers, **headers},
        )

    async def check(self, ws: str, key: str, **params: Any) -> dict[str, Any]:
        r = await self.client.get(
            "/entitlements/check", params={"workspace": ws, "key": key, **params}, headers=self.headers
        )
        result: dict[str, Any] = await ok(r)
        return result


@pytest.fixture
def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    return World(client, admin_headers)


async def person_headers(runtime: Runtime, name: str) -> dict[str, str]:
    """A plain person (no platform role) with a token: their standing comes from RBAC only."""
    async with runtime.uow() as uow:
        person = await identity_api.create_person(uow, kind="individual", display_name=name)
        issued = await identity_api.issue_token(uow, person_id=person.id, name=name, scopes=["*"])
    return {"Authorization": f"Bearer {issued.token}"}


def event(ws: str, key: str, quantity: Any = 1, **extra: Any) -> dict[str, Any]:
    return {"event_id": uuid.uuid4().hex, "workspace": ws, "resource_key": key, "quantity": quantity, **extra}
