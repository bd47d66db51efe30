"""Payment providers end to end: billing asks by event, integration's provider relay calls the
real `stripe` SDK (against tests/support/fake_stripe.py) outside any transaction with the
idempotency key `keel-<row id>`, and the answer comes back as an inbound Stripe event."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from modules.billing.contracts import PAYMENT_INTENT_REQUESTED, REFUND_CREATED, PaymentIntentRequest
from modules.integration.services import provider_calls
from platform_core.messaging.events import Subject
from platform_core.persistence.db import asyncpg_dsn
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.entitlements.conftest import ok
from tests.support.fake_stripe import FakeStripe
from tests.support.payments import (
    API_KEY,
    attach,
    calls,
    collect_with_stripe,
    drain_calls,
    make_due,
    settle,
)


def card_id(kind: str = "pm_card_visa") -> str:
    """A test payment method id, unique (Stripe's are): the fake declines by its prefix."""
    return f"{kind}_{uuid.uuid4().hex[:8]}"


async def charged_invoice(shop: Shop, runtime: Runtime, pm: str | None = None) -> dict[str, Any]:
    """An account collected automatically through Stripe with `pm` as its default, subscribed:
    its first invoice (the PaymentIntent is requested, not yet made)."""
    customer = await collect_with_stripe(
        shop.client, runtime, shop.org, shop.account, shop.headers, collection_method="charge_automatically"
    )
    await attach(shop.client, runtime, customer, pm or card_id())
    price = await shop.price(unit_amount=2500)
    await shop.subscribe((price["id"], 1))
    (invoice,) = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers))
    )["items"]
    return dict(invoice)


async def get_invoice(shop: Shop, invoice_id: str) -> dict[str, Any]:
    result: dict[str, Any] = await ok(
        await shop.client.get(f"/billing/orgs/{shop.org}/invoices/{invoice_id}", headers=shop.headers)
    )
    return result


async def test_the_sdk_calls_with_a_key_derived_from_the_outbox_row(
    shop: Shop, runtime: Runtime, fake_stripe: FakeStripe
) -> None:
    invoice = await charged_invoice(shop, runtime)
    (row,) = await calls(runtime, org_id=shop.org, action="payment_intent.create")
    assert row["request_key"] == f"{invoice['id']}:1"
    assert row["status"] == "pending"
    assert fake_stripe.requests_to("/v1/payment_intents") == []  # nothing called in the request

    await settle(runtime)

    (request,) = fake_stripe.requests_to("/v1/payment_intents")
    assert request.idempotency_key == f"keel-{row['id']}"
    assert request.authorization == f"Bearer {API_KEY}"
    assert request.form["confirm"] == "true"
    assert request.form["amount"] == "2500"
    assert request.form["currency"] == "eur"
    assert request.form["payment_method"].startswith("pm_card_visa_")
    assert request.form["metadata"]["keel_invoice_id"] == invoice["id"]
    (customer_call,) = await calls(runtime, org_id=shop.org, action="customer.create")
    (customer_request,) = fake_stripe.requests_to("/v1/customers")
    assert customer_request.idempotency_key == f"keel-{customer_call['id']}"

    (row,) = await calls(runtime, org_id=shop.org, action="payment_intent.create")
    (intent,) = fake_stripe.intents.values()
    assert (row["status"], row["answer_type"], row["provider_object_id"]) == (
        "delivered", "payment_intent.succeeded", intent["id"],
    )  # fmt: skip
    async with runtime.engine.connect() as conn:
        stored = (
            await conn.execute(
                text("SELECT type, status FROM integration.webhook_events WHERE external_event_id = :e"),
                {"e": f"call:{row['id']}"},
            )
        ).one()
    assert tuple(stored) == ("payment_intent.succeeded", "processed")
    paid = await get_invoice(shop, invoice["id"])
    assert (paid["status"], paid["amount_paid"]) == ("paid", 2500)


async def test_a_5xx_is_retried_with_the_same_key_and_charges_once(
    shop: Shop, runtime: Runtime, fake_stripe: FakeStripe
) -> None:
    invoice = await charged_invoice(shop, runtime)
    fake_stripe.fail_next(1, status=500)
    await drain_calls(runtime)
    (row,) = await calls(runtime, org_id=shop.org, action="payment_intent.create")
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "500" in row["last_error"]
    assert fake_stripe.intents == {}

    fake_stripe.fail_next(1, status=429)  # rate limited: retried as well
    await make_due(runtime)
    await drain_calls(runtime)
    assert (await calls(runtime, org_id=shop.org, action="payment_intent.create"))[0]["status"] == "failed"

    await make_due(runtime)
    await settle(runtime)

    keys = {r.idempotency_key for r in fake_stripe.requests_to("/v1/payment_intents")}
    assert len(fake_stripe.requests_to("/v1/payment_intents")) == 3
    assert keys == {f"keel-{row['id']}"}
    assert len(fake_stripe.intents) == 1
    assert (await get_invoice(shop, invoice["id"]))["status"] == "paid"


async def test_a_crash_after_the_call_calls_again_and_stripe_replays_the_first_answer(
    shop: Shop, runtime: Runtime, fake_stripe: FakeStripe
) -> None:
    invoice = await charged_invoice(shop, runtime)
    real = provider_calls.record_answers
    crashes = []

    async def crash_once(conn: Any, rows: Any) -> Any:
        if not crashes:
            crashes.append(1)
            raise ConnectionResetError("the worker lost its database right after the call")
        return await real(conn, rows)

    (spec,) = [s for s in runtime.registry.relays if s.name == provider_calls.RELAY_NAME]
    object.__setattr__(spec, "handler", crash_once)
    try:
        await drain_calls(runtime)
        (row,) = await calls(runtime, org_id=shop.org, action="payment_intent.create")
        assert row["status"] == "failed"  # the answer was lost with the transaction
        assert len(fake_stripe.intents) == 1  # but Stripe did charge
        await make_due(runtime)
        await settle(runtime)
    finally:
        object.__setattr__(spec, "handler", real)

    requests = fake_stripe.requests_to("/v1/payment_intents")
    assert len(requests) == 2
    assert {r.idempotency_key for r in requests} == {f"keel-{row['id']}"}
    assert len(fake_stripe.intents) == 1  # one PaymentIntent per key: charged once
    assert (await get_invoice(shop, invoice["id"]))["amount_paid"] == 2500
    payments = (await ok(await shop.client.get(f"/billing/orgs/{shop.org}/payments", headers=shop.headers)))[
        "items"
    ]
    assert len(payments) == 1


async def test_a_rolled_back_decision_calls_nothing(
    shop: Shop, runtime: Runtime, fake_stripe: FakeStripe
) -> None:
    request = PaymentIntentRequest(
        invoice_id=uuid.uuid4(),
        account_id=uuid.UUID(shop.account),
        amount=100,
        currency="EUR",
        provider="stripe",
        provider_customer_id=None,
        payment_method="pm_card_visa",
        attempt=1,
        request_key=f"rolled-back-{uuid.uuid4()}",
    )

    class Undecided(Exception):
        pass

    with pytest.raises(Undecided):  # noqa: PT012 (the unit of work is what is rolled back)
        async with runtime.uow() as uow:
            await uow.emit(
                PAYMENT_INTENT_REQUESTED,
                subject=Subject(type="invoice", id=str(request.invoice_id)),
                data=request,
                org_id=uuid.UUID(shop.org),
            )
            assert await calls(runtime, request_key=request.request_key) == []  # not committed yet
            raise Undecided

    assert await calls(runtime, request_key=request.request_key) == []
    await drain_calls(runtime)
    assert fake_stripe.requests == []


async def test_no_transaction_is_open_while_the_provider_is_called(
    shop: Shop, runtime: Runtime, fake_stripe: FakeStripe, db_url: str
) -> None:
    await charged_invoice(shop, runtime)
    seen: list[int] = []
    real_handle = fake_stripe.handle

    def handle_and_look(request: Any) -> Any:
        async def open_transactions() -> int:
            conn = await asyncpg.connect(asyncpg_dsn(db_url))
            try:
                count: int = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                    " AND xact_start IS NOT NULL"
                )
                return count
            finally:
                await conn.close()

        result: list[int] = []
        looker = threading.Thread(target=lambda: result.append(asyncio.run(open_transactions())))
        looker.start()
        looker.join()
        seen.extend(result)
        return real_handle(request)

    fake_stripe.handle = handle_and_look  # type: ignore[method-assign]
    await settle(runtime)
    assert fake_stripe.requests_to("/v1/payment_intents")
    assert seen
    assert set(seen) == {0}, seen


async def test_a_manual_account_makes_no_call(shop: Shop, runtime: Runtime, fake_stripe: FakeStripe) -> None:
    r = await shop.client.patch(
        f"/billing/orgs/{shop.org}/accounts/{shop.account}",
        json={"collection_method": "charge_automatically"},
        headers=shop.headers,
    )
    await ok(r)
    price = await shop.price(unit_amount=700)
    await shop.subscribe((price["id"], 1))
    (invoice,) = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers))
    )["items"]
    await settle(runtime)
    assert await calls(runtime, request_key=f"{invoice['id']}:1") == []
    assert fake_stripe.requests == []
    assert (await get_invoice(shop, invoice["id"]))["status"] == "open"  # an operator records it


async def test_a_refused_request_is_recorded_and_never_repeated(
    shop: Shop, runtime: Runtime, fake_stripe: FakeStripe
) -> None:
    invoice = await charged_invoice(shop, runtime)
    await settle(runtime)
    (intent,) = fake_stripe.intents.values()
    refund = {
        "id": str(uuid.uuid4()),
        "provider": "stripe",
        "provider_payment_id": intent["id"],
        "amount": 9999,  # more than was paid: Stripe refuses with a 400
        "currency": "EUR",
        "reason": "requested_by_customer",
        "status": "pending",
    }
    async with runtime.uow() as uow:
        await uow.emit(
            REFUND_CREATED,
            subject=Subject(type="refund", id=refund["id"]),
            data=refund,
            org_id=uuid.UUID(shop.org),
        )
    await drain_calls(runtime)
    (row,) = await calls(runtime, org_id=shop.org, action="refund.create")
    assert row["status"] == "dead"
    assert "amount_too_large" in row["last_error"] or "greater than" in row["last_error"]
    assert row["answer_type"] == "refund.updated"
    async with runtime.engine.connect() as conn:
        answer = (
            await conn.execute(
                text("SELECT payload FROM integration.webhook_events WHERE external_event_id = :e"),
                {"e": f"call:{row['id']}"},
            )
        ).scalar_one()
    assert answer["data"]["object"]["status"] == "failed"
    assert answer["data"]["object"]["metadata"]["keel_refund_id"] == refund["id"]

    await make_due(runtime)
    await drain_calls(runtime)
    assert len(fake_stripe.requests_to("/v1/refunds")) == 1
    assert invoice["id"]
