"""Fixtures of integration's tests: an organization with an owner, a real HTTP receiver
(pytest-httpserver) and a way to drain the webhook outbox in the test's loop."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request

from platform_core.messaging.outbox import DrainStats, OutboxRelay
from platform_core.runtime.runtime import Runtime
from tests.organization.conftest import make_person  # noqa: F401  (fixture)
from tests.organization.helpers import MakePerson, Person, create_org


@dataclass(frozen=True)
class Org:
    id: str
    owner: Person


@pytest.fixture
async def org(client: httpx.AsyncClient, make_person: MakePerson) -> Org:  # noqa: F811
    owner = await make_person("Owner")
    return Org(id=(await create_org(client, owner))["id"], owner=owner)


@pytest.fixture
def drain(runtime: Runtime) -> Callable[[], Awaitable[DrainStats]]:
    (spec,) = [s for s in runtime.registry.relays if s.name == "integration"]

    async def run() -> DrainStats:
        return await OutboxRelay(runtime.engine, spec, runtime.tuning).drain()

    return run


class Receiver:
    """One path on the shared test HTTP server, answering with the statuses given in turn (the
    last one repeats), and recording what it received."""

    def __init__(self, server: HTTPServer, *statuses: int) -> None:
        self.path = f"/hooks/{uuid.uuid4().hex}"
        self.url = server.url_for(self.path)
        self.statuses = list(statuses) or [200]
        self.received: list[Request] = []
        server.expect_request(self.path, method="POST").respond_with_handler(self._answer)

    def _answer(self, request: Request) -> Any:
        from werkzeug import Response

        self.received.append(request)
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return Response("thanks" if status < 300 else "receiver says no", status=status)


@pytest.fixture
def receiver(httpserver: HTTPServer) -> Callable[..., Receiver]:
    def make(*statuses: int) -> Receiver:
        return Receiver(httpserver, *statuses)

    return make


async def create_endpoint(
    client: httpx.AsyncClient, org: Org, url: str, event_types: list[str], **extra: Any
) -> dict[str, Any]:
    r = await client.post(
        f"/integration/orgs/{org.id}/webhook-endpoints",
        json={"url": url, "event_types": event_types, **extra},
        headers=org.owner.headers,
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def create_workspace(client: httpx.AsyncClient, org: Org, slug: str | None = None) -> dict[str, Any]:
    slug = slug or f"ws-{uuid.uuid4().hex[:8]}"
    r = await client.post(
        f"/orgs/{org.id}/workspaces", json={"slug": slug, "name": slug.title()}, headers=org.owner.headers
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def deliveries(
    client: httpx.AsyncClient, org: Org, endpoint_id: str, **params: str
) -> list[dict[str, Any]]:
    r = await client.get(
        f"/integration/orgs/{org.id}/webhook-endpoints/{endpoint_id}/deliveries",
        params=params,
        headers=org.owner.headers,
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


@pytest.fixture
async def other_org(client: httpx.AsyncClient, make_person: MakePerson) -> Org:  # noqa: F811
    owner = await make_person("Other owner")
    return Org(id=(await create_org(client, owner))["id"], owner=owner)
