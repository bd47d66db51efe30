"""Test helpers for payment providers: the fake Stripe configured as the `stripe` provider, the
provider relay and inbound processing run in the test's loop, and Stripe webhooks sent in.

Import the fixtures into a test module: `from tests.support.payments import fake_stripe  # noqa: F401`."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import text

from modules.integration.services.inbound import process_pending
from modules.integration.services.provider_calls import RELAY_NAME
from platform_core.core.config import get_settings
from platform_core.messaging.outbox import DrainStats, OutboxRelay
from platform_core.runtime.runtime import Runtime
from tests.integration.test_inbound_webhooks import stripe_post
from tests.support.fake_stripe import FakeStripe

API_KEY = "sk_test_keel_fake"


@pytest.fixture
def fake_stripe(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    """A running fake Stripe that the `stripe` provider talks to (settings read from the env)."""
    fake = FakeStripe().start()
    monkeypatch.setenv("KEEL_STRIPE_API_KEY", API_KEY)
    monkeypatch.setenv("KEEL_STRIPE_API_BASE", fake.url)
    get_settings.cache_clear()
    try:
        yield fake
    finally:
        fake.stop()
        get_settings.cache_clear()  # the environment is restored by monkeypatch afterwards


async def drain_calls(runtime: Runtime) -> DrainStats:
    (spec,) = [s for s in runtime.registry.relays if s.name == RELAY_NAME]
    return await OutboxRelay(runtime.engine, spec, runtime.tuning).drain()


async def settle(runtime: Runtime) -> None:
    """Make every due provider call and process every answer (and what that asks in turn)."""
    for _ in range(10):
        calls = await drain_calls(runtime)
        processed = await process_pending(runtime.uow)
        if not calls.claimed and not processed:
            return
    raise AssertionError("provider calls kept coming")


async def calls(runtime: Runtime, **where: Any) -> list[dict[str, Any]]:
    condition = " AND ".join(f"{k} = :{k}" for k in where) or "true"
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT * FROM integration.provider_calls WHERE {condition} ORDER BY id"), where
        )
        return [dict(r._mapping) for r in rows]


async def make_due(runtime: Runtime) -> None:
    """Bring every failed provider call's retry forward to now."""
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text("UPDATE integration.provider_calls SET next_attempt_at = now() WHERE status = 'failed'")
        )


async def events_of(runtime: Runtime, action: str, target_id: str) -> list[dict[str, Any]]:
    """The audit records of `action` on `target_id` (written by audit's "*" subscriber)."""
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT action, metadata FROM audit.audit_outbox WHERE action = :a AND target_id = :t"
                " UNION ALL"
                " SELECT action, metadata FROM audit.audit_logs WHERE action = :a AND target_id = :t"
            ),
            {"a": action, "t": target_id},
        )
        return [dict(r._mapping) for r in rows]


async def send_webhook(
    client: httpx.AsyncClient, runtime: Runtime, event_type: str, obj: dict[str, Any], **extra: Any
) -> str:
    """POST a signed Stripe event as Stripe would and wait until it is processed; returns its id."""
    event_id = f"evt_{uuid.uuid4().hex}"
    body = msgspec.json.encode(
        {"id": event_id, "object": "event", "type": event_type, "data": {"object": obj}, **extra}
    )
    r = await client.post("/integration/webhooks/stripe", content=body, headers=stripe_post(body))
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 10
    while True:  # the receiving process works on it in the background
        await process_pending(runtime.uow)
        async with runtime.engine.connect() as conn:
            status = await conn.scalar(
                text("SELECT status FROM integration.webhook_events WHERE external_event_id = :e"),
                {"e": event_id},
            )
        if status != "received":
            return event_id
        assert time.monotonic() < deadline, f"{event_type} was not processed"
        await asyncio.sleep(0.02)


def card(
    pm_id: str, customer: str | None, *, brand: str = "visa", last4: str = "4242", exp_year: int = 2030
) -> dict[str, Any]:
    """A Stripe PaymentMethod object of type card."""
    return {
        "id": pm_id,
        "object": "payment_method",
        "type": "card",
        "customer": customer,
        "card": {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": exp_year, "country": "US"},
        "billing_details": {"address": {"country": "FR"}, "email": None, "name": "A. Customer"},
    }


async def account_of(
    client: httpx.AsyncClient, org: str, account: str, headers: dict[str, str]
) -> dict[str, Any]:
    r = await client.get(f"/billing/orgs/{org}/accounts/{account}", headers=headers)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


async def collect_with_stripe(
    client: httpx.AsyncClient,
    runtime: Runtime,
    org: str,
    account: str,
    operator: dict[str, str],
    **changes: Any,
) -> str:
    """An operator moves the account to the `stripe` provider; its customer is created at the
    provider (through the relay); returns the customer id."""
    r = await client.patch(
        f"/billing/orgs/{org}/accounts/{account}", json={"provider": "stripe", **changes}, headers=operator
    )
    assert r.status_code == 200, r.text
    await settle(runtime)
    customer = (await account_of(client, org, account, operator))["provider_customer_id"]
    assert isinstance(customer, str), customer
    assert customer.startswith("cus_"), customer
    return customer


async def attach(
    client: httpx.AsyncClient, runtime: Runtime, customer: str, pm_id: str, **details: Any
) -> None:
    """Stripe reports a card attached to the customer (`payment_method.attached`)."""
    await send_webhook(client, runtime, "payment_method.attached", card(pm_id, customer, **details))
    await settle(runtime)
