"""Outbound webhooks end to end: an event committed in an organization reaches the endpoints
that want it, signed per Standard Webhooks, once per endpoint, retried until it is answered."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from platform_core.messaging.outbox import DrainStats
from platform_core.runtime.runtime import Runtime
from tests.integration.conftest import Org, Receiver, create_endpoint, create_workspace, deliveries

Drain = Callable[[], Awaitable[DrainStats]]
MakeReceiver = Callable[..., Receiver]


def verified(secret: str, request: object) -> dict:
    """What a receiver does: check the signature, then trust the body."""
    body = request.get_data(as_text=True)  # type: ignore[attr-defined]
    payload: dict = Webhook(secret).verify(body, dict(request.headers))  # type: ignore[attr-defined]
    return payload


async def make_due(runtime: Runtime, endpoint_id: str) -> None:
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE integration.integration_outbox SET next_attempt_at = now()"
                " WHERE endpoint_id = :e AND status = 'failed'"
            ),
            {"e": endpoint_id},
        )


async def test_an_event_reaches_the_endpoint_that_wants_it_signed(
    client: httpx.AsyncClient, org: Org, other_org: Org, receiver: MakeReceiver, drain: Drain
) -> None:
    hook, elsewhere = receiver(), receiver()
    created = await create_endpoint(client, org, hook.url, ["organization.workspace.*"])
    assert created["secret"].startswith("whsec_")
    await create_endpoint(client, other_org, elsewhere.url, ["*"])

    workspace = await create_workspace(client, org)
    await client.post(  # an event the endpoint did not ask for
        f"/orgs/{org.id}/roles",
        json={"key": "auditor", "name": "Auditor", "permissions": ["audit.logs:read"]},
        headers=org.owner.headers,
    )
    await drain()

    (request,) = hook.received
    payload = verified(created["secret"], request)
    assert payload["type"] == "organization.workspace.created"
    assert payload["org_id"] == org.id
    assert payload["subject"]["id"] == workspace["id"]
    assert payload["actor"]["type"] == "person"
    assert request.headers["webhook-id"] == payload["id"]
    assert request.headers["content-type"] == "application/json"
    assert elsewhere.received == []  # another organization's endpoint hears nothing of it

    (delivery,) = await deliveries(client, org, created["endpoint"]["id"])
    assert delivery["status"] == "delivered"
    assert (delivery["attempts"], delivery["last_response_status"], delivery["last_error"]) == (1, 200, None)
    assert delivery["event_id"] == payload["id"]
    assert delivery["next_attempt_at"] is None


async def test_a_failing_receiver_gets_the_same_event_again_until_it_answers(
    client: httpx.AsyncClient, org: Org, receiver: MakeReceiver, drain: Drain, runtime: Runtime
) -> None:
    hook = receiver(503, 200)
    created = await create_endpoint(client, org, hook.url, ["organization.workspace.created"])
    endpoint_id = created["endpoint"]["id"]
    await create_workspace(client, org)

    await drain()
    (failed,) = await deliveries(client, org, endpoint_id)
    assert (failed["status"], failed["attempts"], failed["last_response_status"]) == ("failed", 1, 503)
    assert failed["last_error"] == "HTTP 503: receiver says no"
    assert failed["next_attempt_at"] is not None

    await drain()  # not due yet: the backoff holds it back
    assert len(hook.received) == 1

    await make_due(runtime, endpoint_id)
    await drain()
    (delivered,) = await deliveries(client, org, endpoint_id)
    assert (delivered["status"], delivered["attempts"]) == ("delivered", 2)
    assert delivered["last_response_status"] == 200
    first, second = hook.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # receivers deduplicate on it
    assert verified(created["secret"], second)["id"] == first.headers["webhook-id"]


async def test_a_failing_endpoint_never_makes_a_healthy_one_receive_twice(
    client: httpx.AsyncClient, org: Org, receiver: MakeReceiver, drain: Drain, runtime: Runtime
) -> None:
    healthy, broken = receiver(200), receiver(500)
    good = await create_endpoint(client, org, healthy.url, ["organization.workspace.created"])
    bad = await create_endpoint(client, org, broken.url, ["organization.workspace.created"])
    for _ in range(3):
        await create_workspace(client, org)

    await drain()
    await make_due(runtime, bad["endpoint"]["id"])
    await drain()

    assert len(healthy.received) == 3
    assert len({r.headers["webhook-id"] for r in healthy.received}) == 3
    assert len(broken.received) == 6
    assert {d["status"] for d in await deliveries(client, org, good["endpoint"]["id"])} == {"delivered"}
    assert {d["status"] for d in await deliveries(client, org, bad["endpoint"]["id"])} == {"failed"}


async def test_an_unreachable_endpoint_ends_dead_and_can_be_sent_again(
    client: httpx.AsyncClient, org: Org, receiver: MakeReceiver, drain: Drain, runtime: Runtime
) -> None:
    created = await create_endpoint(client, org, "http://127.0.0.1:9/nobody-listens", ["organization.*"])
    endpoint_id = created["endpoint"]["id"]
    await create_workspace(client, org)
    async with runtime.engine.begin() as conn:  # as if it had failed 19 times already
        await conn.execute(
            text("UPDATE integration.integration_outbox SET attempts = 19 WHERE endpoint_id = :e"),
            {"e": endpoint_id},
        )
    await drain()
    (dead,) = await deliveries(client, org, endpoint_id, status="dead")
    assert dead["attempts"] == 20
    assert dead["last_error"].startswith("ConnectError")
    assert dead["last_response_status"] is None

    hook = receiver()
    r = await client.patch(
        f"/integration/orgs/{org.id}/webhook-endpoints/{endpoint_id}",
        json={"url": hook.url},
        headers=org.owner.headers,
    )
    assert r.status_code == 200, r.text
    retry_url = f"/integration/orgs/{org.id}/webhook-endpoints/{endpoint_id}/deliveries/{dead['id']}/retry"
    r = await client.post(retry_url, headers=org.owner.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["attempts"]) == ("pending", 0)
    r = await client.post(retry_url, headers=org.owner.headers)
    assert r.status_code == 409
    assert r.json()["code"] == "delivery_pending"

    await drain()
    (request,) = hook.received  # the retry goes to the endpoint's URL of now
    assert verified(created["secret"], request)["id"] == dead["event_id"]
    (delivered,) = await deliveries(client, org, endpoint_id)
    assert (delivered["status"], delivered["url"]) == ("delivered", hook.url)


async def test_after_a_rotation_both_secrets_sign_until_the_old_one_expires(
    client: httpx.AsyncClient, org: Org, receiver: MakeReceiver, drain: Drain, runtime: Runtime
) -> None:
    hook = receiver()
    created = await create_endpoint(client, org, hook.url, ["organization.workspace.created"])
    endpoint_id = created["endpoint"]["id"]
    r = await client.post(
        f"/integration/orgs/{org.id}/webhook-endpoints/{endpoint_id}/rotate-secret", headers=org.owner.headers
    )
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["secret"] != created["secret"]
    assert rotated["endpoint"]["previous_secret_expires_at"] is not None

    await create_workspace(client, org)
    await drain()
    (request,) = hook.received
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert verified(created["secret"], request) == verified(rotated["secret"], request)

    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE integration.webhook_endpoints"
                " SET previous_secret_expires_at = now() - interval '1 second' WHERE id = :e"
            ),
            {"e": endpoint_id},
        )
    await create_workspace(client, org)
    await drain()
    latest = hook.received[-1]
    assert len(latest.headers["webhook-signature"].split(" ")) == 1
    verified(rotated["secret"], latest)


async def test_a_disabled_endpoint_gets_nothing_new_and_a_deleted_one_loses_its_log(
    client: httpx.AsyncClient, org: Org, receiver: MakeReceiver, drain: Drain, runtime: Runtime
) -> None:
    hook = receiver()
    created = await create_endpoint(client, org, hook.url, ["*"])
    base = f"/integration/orgs/{org.id}/webhook-endpoints/{created['endpoint']['id']}"
    r = await client.patch(base, json={"status": "disabled"}, headers=org.owner.headers)
    assert r.json()["status"] == "disabled"
    await create_workspace(client, org)
    await drain()
    assert hook.received == []
    assert await deliveries(client, org, created["endpoint"]["id"]) == []

    r = await client.patch(base, json={"status": "enabled"}, headers=org.owner.headers)
    await create_workspace(client, org)
    await drain()
    assert len(hook.received) == 1

    r = await client.delete(base, headers=org.owner.headers)
    assert r.status_code == 204
    assert (await client.get(base, headers=org.owner.headers)).status_code == 404
    async with runtime.engine.connect() as conn:
        left = await conn.scalar(
            text("SELECT count(*) FROM integration.integration_outbox WHERE endpoint_id = :e"),
            {"e": created["endpoint"]["id"]},
        )
    assert left == 0


async def test_the_secret_is_shown_once_and_never_audited(
    client: httpx.AsyncClient, org: Org, receiver: MakeReceiver, runtime: Runtime
) -> None:
    created = await create_endpoint(client, org, receiver().url, ["*"], description="CRM sync")
    base = f"/integration/orgs/{org.id}/webhook-endpoints"
    listed = (await client.get(base, headers=org.owner.headers)).json()["items"]
    one = (await client.get(f"{base}/{created['endpoint']['id']}", headers=org.owner.headers)).json()
    assert [e["id"] for e in listed] == [created["endpoint"]["id"]]
    assert one == created["endpoint"]
    assert created["secret"] not in json.dumps([listed, one])
    assert "whsec_" not in json.dumps([listed, one])
    async with runtime.engine.connect() as conn:
        audited = await conn.scalar(
            text(
                "SELECT string_agg(metadata::text, ' ') FROM"
                " (SELECT metadata, target_id FROM audit.audit_outbox"
                " UNION ALL SELECT metadata, target_id FROM audit.audit_logs) a WHERE target_id = :e"
            ),
            {"e": created["endpoint"]["id"]},
        )
    assert audited is not None
    assert "whsec_" not in audited
