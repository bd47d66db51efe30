"""Managing webhook endpoints: refused inputs, tenancy and permissions, idempotent creation,
the delivery log's upkeep, and the worker delivering without being asked."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import text

from modules.integration.services.endpoints import MAX_ENDPOINTS_PER_ORG
from modules.integration.services.urls import checked_url
from platform_core.core.config import Settings
from platform_core.core.errors import Unprocessable
from platform_core.runtime.runtime import Runtime
from platform_core.runtime.worker import start_worker
from tests.integration.conftest import Org, Receiver, create_endpoint, create_workspace, deliveries
from tests.organization.helpers import MakePerson, assert_problem, join

MakeReceiver = Callable[..., Receiver]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        # the documented URL pattern, refused as the body is read
        ({"url": "ftp://example.com/hook", "event_types": ["*"]}, 400, "invalid_request"),
        ({"url": "https://user:pw@example.com/hook", "event_types": ["*"]}, 400, "invalid_request"),
        ({"url": "https://example.com/hook#frag", "event_types": ["*"]}, 400, "invalid_request"),
        ({"url": "https://:443/hook", "event_types": ["*"]}, 400, "invalid_request"),
        ({"url": "https://example.com:99999/", "event_types": ["*"]}, 400, "invalid_request"),
        ({"url": "https://example.com/hook", "event_types": []}, 400, "invalid_request"),
        ({"url": "https://example.com/hook", "event_types": ["Billing.Invoice"]}, 400, "invalid_request"),
        ({"url": "https://example.com/hook", "event_types": ["billing.*.paid"]}, 400, "invalid_request"),
        ({"url": "https://example.com/hook"}, 400, "invalid_request"),
        ({"url": "https://example.com/hook", "event_types": ["*"], "secret": "mine"}, 400, "invalid_request"),
    ],
)
async def test_bad_endpoints_are_refused_and_nothing_is_written(
    client: httpx.AsyncClient, org: Org, body: dict, status: int, code: str
) -> None:
    url = f"/integration/orgs/{org.id}/webhook-endpoints"
    assert_problem(await client.post(url, json=body, headers=org.owner.headers), status, code)
    assert (await client.get(url, headers=org.owner.headers)).json()["items"] == []


def test_production_accepts_only_public_https() -> None:
    production = Settings(environment="production")
    assert checked_url("https://hooks.example.com/keel", production) == "https://hooks.example.com/keel"
    for url in (
        "http://hooks.example.com/keel",
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/hook",
        "https://db.internal/hook",
    ):
        with pytest.raises(Unprocessable):
            checked_url(url, production)
    assert checked_url("http://127.0.0.1:8080/hook", Settings()) == "http://127.0.0.1:8080/hook"


async def test_other_organizations_and_members_without_the_permission_are_kept_out(
    client: httpx.AsyncClient, org: Org, other_org: Org, make_person: MakePerson, receiver: MakeReceiver
) -> None:
    created = await create_endpoint(client, org, receiver().url, ["*"])
    base = f"/integration/orgs/{org.id}/webhook-endpoints"
    one = f"{base}/{created['endpoint']['id']}"
    # another organization's owner: 404 everywhere, as if nothing existed
    for r in (
        await client.get(base, headers=other_org.owner.headers),
        await client.get(one, headers=other_org.owner.headers),
        await client.delete(one, headers=other_org.owner.headers),
        await client.post(f"{one}/rotate-secret", headers=other_org.owner.headers),
    ):
        assert_problem(r, 404)
    # its own organization's path with our endpoint id: 404 too
    mixed = f"/integration/orgs/{other_org.id}/webhook-endpoints/{created['endpoint']['id']}"
    assert_problem(
        await client.get(mixed, headers=other_org.owner.headers), 404, "webhook_endpoint_not_found"
    )

    viewer = await make_person("Viewer")
    await join(client, org.id, org.owner, viewer, "viewer")
    assert_problem(await client.get(base, headers=viewer.headers), 403)
    assert_problem(
        await client.post(base, json={"url": receiver().url, "event_types": ["*"]}, headers=viewer.headers),
        403,
    )
    assert_problem(
        await client.get(f"/integration/orgs/{uuid.uuid4()}/webhook-endpoints", headers=org.owner.headers),
        404,
    )


async def test_creation_is_idempotent_and_bounded(
    client: httpx.AsyncClient, org: Org, receiver: MakeReceiver
) -> None:
    base = f"/integration/orgs/{org.id}/webhook-endpoints"
    body = {"url": receiver().url, "event_types": ["organization.*", "organization.*"]}
    headers = {**org.owner.headers, "Idempotency-Key": str(uuid.uuid4())}
    first = await client.post(base, json=body, headers=headers)
    again = await client.post(base, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()  # the same endpoint, and the same secret, once
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["endpoint"]["event_types"] == ["organization.*"]

    results = await asyncio.gather(
        *(
            client.post(base, json={"url": receiver().url, "event_types": ["*"]}, headers=org.owner.headers)
            for _ in range(MAX_ENDPOINTS_PER_ORG + 4)
        )
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(201) == MAX_ENDPOINTS_PER_ORG - 1
    assert all(r.json()["code"] == "too_many_webhook_endpoints" for r in results if r.status_code == 409)
    listed = (await client.get(base, params={"limit": 500}, headers=org.owner.headers)).json()["items"]
    assert len(listed) == MAX_ENDPOINTS_PER_ORG


async def test_the_purge_job_keeps_recent_and_undelivered_deliveries(
    client: httpx.AsyncClient, org: Org, receiver: MakeReceiver, runtime: Runtime, drain: Callable
) -> None:
    created = await create_endpoint(client, org, receiver().url, ["organization.workspace.created"])
    endpoint_id = created["endpoint"]["id"]
    for _ in range(3):
        await create_workspace(client, org)
    await drain()
    old, recent, waiting = await deliveries(client, org, endpoint_id)
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE integration.integration_outbox SET created_at = now() - interval '31 days',"
                " status = CASE WHEN id = :waiting THEN 'failed' ELSE status END WHERE id IN (:old, :waiting)"
            ),
            {"old": old["id"], "waiting": waiting["id"]},
        )

    outcome = await runtime.scheduler.run_now("integration.purge_deliveries")

    assert outcome is not None
    assert outcome.succeeded, outcome
    assert {d["id"] for d in await deliveries(client, org, endpoint_id)} == {recent["id"], waiting["id"]}


async def test_a_running_worker_delivers_on_its_own(
    client: httpx.AsyncClient, org: Org, receiver: MakeReceiver, runtime: Runtime
) -> None:
    hook = receiver()
    await create_endpoint(client, org, hook.url, ["organization.workspace.created"])
    worker = start_worker(runtime, threads=2)
    try:
        await create_workspace(client, org)  # its after-commit nudge reaches the worker via Redis
        deadline = time.monotonic() + 15
        while not hook.received:
            assert time.monotonic() < deadline, "the worker did not deliver the webhook"
            await asyncio.sleep(0.1)
    finally:
        worker.stop()
    assert len(hook.received) == 1
