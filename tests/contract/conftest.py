"""Fixtures of the contract tests: a Keel app served over HTTP by uvicorn (for tools that call it
from outside), and two tenants (an organization with workspaces) seeded for an ordinary member and
for a platform operator.

The served app has a runtime of its own, as its connection pools belong to the server's event loop;
the seeding goes through the shared `client`/`runtime` fixtures, against the same database."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from modules.composition import build_runtime
from modules.identity import api as identity_api
from platform_core.core.config import Settings
from platform_core.core.principal import PLATFORM_ADMIN_SCOPE
from platform_core.http.app import create_app
from platform_core.runtime.runtime import Runtime


@dataclass(frozen=True)
class Tenant:
    """A principal and the organization it owns, with the ids schemathesis puts in org paths."""

    token: str
    person_id: str
    org_id: str
    workspace_id: str
    doomed_workspace_id: str  # the one `DELETE .../workspaces/{workspace_id}` may delete
    spare_token_id: str  # the one `DELETE /identity/me/tokens/{token_id}` may revoke
    doomed_org_id: str  # the one `POST /organizations/{org_id}/status` may suspend or close

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Served:
    """The app behind uvicorn on a free local port, in a thread with its own event loop."""

    def __init__(self, settings: Settings) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        app = create_app(build_runtime(settings))
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="contract-uvicorn", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start in 30 s"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True  # the lifespan's shutdown disposes the runtime in its loop
        self.thread.join(timeout=30)


@pytest.fixture(scope="session")
def served(settings: Settings) -> Iterator[Served]:
    server = Served(settings)
    server.start()
    yield server
    server.stop()


async def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 300, f"{response.request.method} {response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


async def _tenant(client: httpx.AsyncClient, runtime: Runtime, name: str, scopes: list[str]) -> Tenant:
    async with runtime.uow() as uow:
        person = await identity_api.create_person(
            uow, kind="individual", display_name=name, email=f"{uuid.uuid4().hex[:10]}@example.test"
        )
        issued = await identity_api.issue_token(uow, person_id=person.id, name="contract", scopes=scopes)
        spare = await identity_api.issue_token(uow, person_id=person.id, name="spare", scopes=scopes)
    headers = {"Authorization": f"Bearer {issued.token}"}
    org, doomed_org = [
        await _ok(
            await client.post(
                "/organizations",
                json={"slug": f"contract-{uuid.uuid4().hex[:10]}", "name": name},
                headers=headers,
            )
        )
        for _ in range(2)
    ]
    workspaces = [
        await _ok(
            await client.post(
                f"/orgs/{org['id']}/workspaces", json={"slug": ws_slug, "name": ws_slug}, headers=headers
            )
        )
        for ws_slug in ("main", "doomed")
    ]
    return Tenant(
        token=issued.token,
        person_id=str(person.id),
        org_id=org["id"],
        workspace_id=workspaces[0]["id"],
        doomed_workspace_id=workspaces[1]["id"],
        spare_token_id=str(spare.id),
        doomed_org_id=doomed_org["id"],
    )


@pytest.fixture(scope="session")
async def member(client: httpx.AsyncClient, runtime: Runtime) -> Tenant:
    """An ordinary person (no platform scope) who owns an organization."""
    return await _tenant(client, runtime, "Contract Member", ["*"])


@pytest.fixture(scope="session")
async def operator(client: httpx.AsyncClient, runtime: Runtime) -> Tenant:
    """A platform operator (admin PAT) with an organization of its own."""
    return await _tenant(client, runtime, "Contract Operator", [PLATFORM_ADMIN_SCOPE, "*"])
