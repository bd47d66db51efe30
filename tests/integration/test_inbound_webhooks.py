"""Inbound webhooks: only verified events are stored, each once; subscribers get them in a
transaction of their own, a failing one is retried without its half-done work, and an event
nobody wants is marked ignored."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
import msgspec
import pytest
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from modules.integration.services.inbound import process_pending
from platform_core.messaging.events import Event, inbound_webhook_type
from platform_core.messaging.uow import Subscription, UnitOfWork
from platform_core.runtime.runtime import Runtime
from tests.conftest import INBOUND_WEBHOOK_SECRETS

SECRETS = dict(item.split("=", 1) for item in INBOUND_WEBHOOK_SECRETS.split(","))
POLL_SECONDS = 10


def stripe_post(body: bytes, *, at: int | None = None, secret: str = SECRETS["stripe"]) -> dict[str, str]:
    stamp = at or int(time.time())
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={stamp},v1={signature}", "Content-Type": "application/json"}


def stripe_event(event_type: str) -> bytes:
    return msgspec.json.encode(
        {"id": f"evt_{uuid.uuid4().hex}", "type": event_type, "data": {"object": {"amount": 4200}}}
    )


def standard_post(body: bytes, msg_id: str) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(SECRETS["acme"]).sign(msg_id, now, body.decode()),
        "Content-Type": "application/json",
    }


def subscribe(
    runtime: Runtime, event_type: str, handler: Callable[[UnitOfWork, Event], Awaitable[None]]
) -> None:
    runtime.registry.bus.subscribe(Subscription(event_type, handler))


async def event_row(runtime: Runtime, external_id: str) -> dict:
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT * FROM integration.webhook_events WHERE external_event_id = :e"),
                {"e": external_id},
            )
        ).all()
    assert len(rows) == 1, rows
    return dict(rows[0]._mapping)


async def settled(runtime: Runtime, external_id: str) -> dict:
    deadline = time.monotonic() + POLL_SECONDS
    while (row := await event_row(runtime, external_id))["status"] == "received":
        assert time.monotonic() < deadline, "the event was not processed after receipt"
        await asyncio.sleep(0.05)
    return row


async def test_a_stripe_event_is_stored_once_and_processed_right_after_receipt(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    event_type = f"invoice.paid_{uuid.uuid4().hex[:8]}"
    seen: list[dict] = []

    async def on_paid(uow: UnitOfWork, event: Event) -> None:
        seen.append(event.data)

    subscribe(runtime, inbound_webhook_type("stripe", event_type), on_paid)
    body = stripe_event(event_type)
    external_id = msgspec.json.decode(body)["id"]

    first = await client.post("/integration/webhooks/stripe", content=body, headers=stripe_post(body))
    again = await client.post("/integration/webhooks/stripe", content=body, headers=stripe_post(body))

    assert first.status_code == again.status_code == 200, first.text
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    assert first.json()["id"] == again.json()["id"]
    row = await settled(runtime, external_id)
    assert (row["status"], row["attempts"], row["signature_verified"], row["type"]) == (
        "processed",
        1,
        True,
        event_type,
    )
    assert seen == [
        {"provider": "stripe", "external_event_id": external_id, "payload": msgspec.json.decode(body)}
    ]
    async with runtime.engine.connect() as conn:
        audited = await conn.scalar(
            text(
                "SELECT count(*) FROM (SELECT target_id FROM audit.audit_outbox UNION ALL"
                " SELECT target_id FROM audit.audit_logs) a WHERE target_id = :id"
            ),
            {"id": str(row["id"])},
        )
    assert audited == 1


async def test_a_standard_webhooks_provider_and_an_event_nobody_wants(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    msg_id = f"msg_{uuid.uuid4().hex}"
    body = msgspec.json.encode({"type": "shipment.delivered", "data": {"parcel": 7}})
    r = await client.post("/integration/webhooks/acme", content=body, headers=standard_post(body, msg_id))
    assert r.status_code == 200, r.text
    row = await settled(runtime, msg_id)
    assert (row["status"], row["payload"]) == (
        "ignored",
        {"type": "shipment.delivered", "data": {"parcel": 7}},
    )


@pytest.mark.parametrize(
    ("provider", "make_headers", "status", "code"),
    [
        ("stripe", lambda body: {"Stripe-Signature": "t=1,v1=00"}, 400, "invalid_signature"),
        ("stripe", lambda body: stripe_post(body, at=int(time.time()) - 3600), 400, "invalid_signature"),
        ("stripe", lambda body: stripe_post(body, secret="whsec_someone_else"), 400, "invalid_signature"),
        ("stripe", lambda body: {}, 400, "invalid_signature"),
        ("acme", lambda body: stripe_post(body), 400, "invalid_signature"),
        ("nobody", lambda body: stripe_post(body), 404, "webhook_provider_unknown"),
        ("Not-A-Provider!", lambda body: stripe_post(body), 400, None),
    ],
)
async def test_unverified_requests_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient,
    runtime: Runtime,
    provider: str,
    make_headers: Callable,
    status: int,
    code: str | None,
) -> None:
    body = stripe_event("charge.succeeded")
    r = await client.post(f"/integration/webhooks/{provider}", content=body, headers=make_headers(body))
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    if code:
        assert r.json()["code"] == code
    async with runtime.engine.connect() as conn:
        stored = await conn.scalar(
            text("SELECT count(*) FROM integration.webhook_events WHERE external_event_id = :e"),
            {"e": msgspec.json.decode(body)["id"]},
        )
    assert stored == 0


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", msgspec.json.encode({"type": "x.y"})])
async def test_signed_but_malformed_bodies_are_refused(client: httpx.AsyncClient, body: bytes) -> None:
    r = await client.post("/integration/webhooks/stripe", content=body, headers=stripe_post(body))
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_payload"


async def test_a_failing_subscriber_loses_its_work_and_the_event_is_retried(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    event_type = f"customer.updated_{uuid.uuid4().hex[:8]}"
    attempts: list[str] = []
    marker = f"inbound:{uuid.uuid4()}"

    async def flaky(uow: UnitOfWork, event: Event) -> None:
        await uow.session.execute(
            text(
                "INSERT INTO platform.idempotency_keys (owner, key, method, path, request_hash)"
                " VALUES (:o, 'k', 'POST', '/x', '\\x00')"
            ),
            {"o": f"{marker}:{len(attempts)}"},
        )
        attempts.append(event.type)
        if len(attempts) == 1:
            raise RuntimeError("downstream said no")

    subscribe(runtime, inbound_webhook_type("stripe", event_type), flaky)
    body = stripe_event(event_type)
    external_id = msgspec.json.decode(body)["id"]
    assert (
        await client.post("/integration/webhooks/stripe", content=body, headers=stripe_post(body))
    ).status_code == 200

    failed = await settled(runtime, external_id)
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert failed["last_error"] == "RuntimeError: downstream said no"
    assert failed["next_attempt_at"] > failed["received_at"]
    async with runtime.engine.begin() as conn:
        kept = await conn.scalar(
            text("SELECT count(*) FROM platform.idempotency_keys WHERE owner LIKE :m"), {"m": f"{marker}%"}
        )
        assert kept == 0  # the failed attempt's write went with its savepoint
        await conn.execute(
            text(
                "UPDATE integration.webhook_events SET next_attempt_at = now() WHERE external_event_id = :e"
            ),
            {"e": external_id},
        )
    assert await process_pending(runtime.uow) >= 1
    done = await event_row(runtime, external_id)
    assert (done["status"], done["attempts"], done["last_error"]) == ("processed", 2, None)
    async with runtime.engine.connect() as conn:
        kept = await conn.scalar(
            text("SELECT count(*) FROM platform.idempotency_keys WHERE owner LIKE :m"), {"m": f"{marker}%"}
        )
    assert kept == 1


async def test_concurrent_processors_handle_each_event_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    event_type = f"payout.paid_{uuid.uuid4().hex[:8]}"
    handled: list[str] = []

    async def slow(uow: UnitOfWork, event: Event) -> None:
        await uow.session.execute(text("SELECT pg_sleep(0.02)"))
        handled.append(event.data["external_event_id"])

    subscribe(runtime, inbound_webhook_type("stripe", event_type), slow)
    async with runtime.uow() as uow:  # stored without the after-receipt processing
        from modules.integration.services.inbound import receive
        from modules.integration.services.inbound_verify import VerifiedEvent

        for n in range(12):
            await receive(uow, "stripe", VerifiedEvent(f"evt_c{n}_{event_type}", event_type, {"n": n}))
    await asyncio.gather(*(process_pending(runtime.uow) for _ in range(4)))
    assert sorted(handled) == sorted(f"evt_c{n}_{event_type}" for n in range(12))
