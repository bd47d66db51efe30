"""Collection: `send_invoice` invoices wait until their due date; `charge_automatically` ones
are charged through the provider when finalized, and a failed payment is recorded on the
invoice, announced, and tried again on the retry schedule until it succeeds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modules.billing.services.collection import retry_due_payments
from modules.billing.services.payment_retries import due_date, next_payment_attempt, retry_schedule
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.entitlements.conftest import Clock, ok
from tests.organization.conftest import make_person  # noqa: F401  (fixture)
from tests.organization.helpers import MakePerson, Person, assert_problem, join
from tests.support.fake_stripe import FakeStripe
from tests.support.payments import (
    account_of,
    attach,
    calls,
    collect_with_stripe,
    drain_calls,
    events_of,
    make_due,
    send_webhook,
    settle,
)

T0 = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)


def test_the_retry_schedule_counts_each_wait_from_the_attempt_before() -> None:
    assert [next_payment_attempt(T0, n) for n in (1, 2, 3, 4)] == [
        T0 + timedelta(days=3), T0 + timedelta(days=5), T0 + timedelta(days=7), None,
    ]  # fmt: skip
    assert next_payment_attempt(T0, 0) is None
    policy = retry_schedule([1, 2])  # what an overdue policy supplies
    assert [next_payment_attempt(T0, n, policy) for n in (1, 2, 3)] == [
        T0 + timedelta(days=1), T0 + timedelta(days=2), None,
    ]  # fmt: skip
    assert next_payment_attempt(T0, 1, retry_schedule([])) is None


def test_due_dates() -> None:
    assert due_date("send_invoice", T0, 30) == T0 + timedelta(days=30)
    assert due_date("send_invoice", T0, 0) == T0
    assert due_date("charge_automatically", T0, 30) == T0


def card_id(kind: str = "pm_card_visa") -> str:
    return f"{kind}_{uuid.uuid4().hex[:8]}"


async def invoice_of(shop: Shop, invoice_id: str) -> dict[str, Any]:
    result: dict[str, Any] = await ok(
        await shop.client.get(f"/billing/orgs/{shop.org}/invoices/{invoice_id}", headers=shop.headers)
    )
    return result


async def first_invoice(shop: Shop, unit_amount: int = 4000) -> dict[str, Any]:
    price = await shop.price(unit_amount=unit_amount)
    await shop.subscribe((price["id"], 1))
    (invoice,) = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers))
    )["items"]
    return dict(invoice)


@pytest.fixture
def collection_clock(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Clock:
    return clock


async def test_a_send_invoice_invoice_waits_until_its_due_date(
    shop: Shop, runtime: Runtime, fake_stripe: FakeStripe
) -> None:
    account = await account_of(shop.client, shop.org, shop.account, shop.headers)
    assert (account["collection_method"], account["provider"], account["days_until_due"]) == (
        "send_invoice", "manual", 30,
    )  # fmt: skip
    await ok(
        await shop.client.patch(
            f"/billing/orgs/{shop.org}/accounts/{shop.account}",
            json={"days_until_due": 14},
            headers=shop.headers,
        )
    )
    invoice = await first_invoice(shop)
    finalized = datetime.fromisoformat(invoice["finalized_at"])
    assert datetime.fromisoformat(invoice["due_date"]) == finalized + timedelta(days=14)
    assert (invoice["collection_method"], invoice["attempt_count"], invoice["next_payment_attempt"]) == (
        "send_invoice", 0, None,
    )  # fmt: skip
    await settle(runtime)
    assert await calls(runtime, org_id=shop.org) == []
    assert fake_stripe.requests == []
    assert (await invoice_of(shop, invoice["id"]))["status"] == "open"


async def test_a_charge_automatically_invoice_is_paid_when_finalized(
    shop: Shop, runtime: Runtime, fake_stripe: FakeStripe
) -> None:
    customer = await collect_with_stripe(
        shop.client, runtime, shop.org, shop.account, shop.headers, collection_method="charge_automatically"
    )
    await attach(shop.client, runtime, customer, card_id())
    invoice = await first_invoice(shop)
    assert invoice["collection_method"] == "charge_automatically"
    assert invoice["due_date"] == invoice["finalized_at"]
    await settle(runtime)

    (request,) = fake_stripe.requests_to("/v1/payment_intents")
    assert request.form["customer"] == customer
    assert request.form["metadata"] == {
        "keel_invoice_id": invoice["id"],
        "keel_account_id": shop.account,
        "keel_attempt": "1",
        "keel_request_key": f"{invoice['id']}:1",
    }
    paid = await invoice_of(shop, invoice["id"])
    assert (paid["status"], paid["amount_paid"], paid["attempt_count"]) == ("paid", 4000, 0)
    (payment,) = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/payments", headers=shop.headers))
    )["items"]
    assert payment["provider_payment_id"] == next(iter(fake_stripe.intents))


async def test_a_declined_payment_is_recorded_and_retried_on_schedule_until_paid(
    shop: Shop, runtime: Runtime, fake_stripe: FakeStripe, collection_clock: Clock
) -> None:
    collection_clock.set(datetime.now(UTC))
    customer = await collect_with_stripe(
        shop.client, runtime, shop.org, shop.account, shop.headers, collection_method="charge_automatically"
    )
    declining = card_id("pm_card_chargeDeclinedInsufficientFunds")
    await attach(shop.client, runtime, customer, declining)
    invoice = await first_invoice(shop)
    await settle(runtime)

    failed = await invoice_of(shop, invoice["id"])
    failed_at = collection_clock()
    assert (failed["status"], failed["attempt_count"]) == ("open", 1)
    assert datetime.fromisoformat(failed["next_payment_attempt"]) == failed_at + timedelta(days=3)
    error = failed["last_payment_error"]
    assert (error["code"], error["decline_code"], error["type"]) == (
        "card_declined", "insufficient_funds", "card_error",
    )  # fmt: skip
    assert error["message"] == "Your card was declined."
    assert error["payment_intent"] == next(iter(fake_stripe.intents))
    (announced,) = await events_of(runtime, "billing.invoice.payment_failed", invoice["id"])
    (call,) = await calls(runtime, org_id=shop.org, action="payment_intent.create")
    assert call["status"] == "delivered"  # a decline is an answer, not a failure to call

    # Stripe's own webhook for the same failure changes nothing
    intent = next(iter(fake_stripe.intents.values()))
    await send_webhook(shop.client, runtime, "payment_intent.payment_failed", intent)
    assert (await invoice_of(shop, invoice["id"]))["attempt_count"] == 1
    assert len(await events_of(runtime, "billing.invoice.payment_failed", invoice["id"])) == 1

    # not due yet: nothing is asked
    async with runtime.uow() as uow:
        assert await retry_due_payments(uow) == 0

    # the second attempt, three days later, declines again: five more days
    collection_clock.set(collection_clock() + timedelta(days=3, seconds=1))
    async with runtime.uow() as uow:
        assert await retry_due_payments(uow) == 1
    await settle(runtime)
    second = await invoice_of(shop, invoice["id"])
    assert second["attempt_count"] == 2
    assert datetime.fromisoformat(second["next_payment_attempt"]) == collection_clock() + timedelta(days=5)

    # the customer adds a card that works and makes it the default: the third attempt pays
    working = card_id()
    await attach(shop.client, runtime, customer, working)
    methods = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/payment-methods", headers=shop.headers))
    )["items"]
    (new,) = [m for m in methods if m["provider_payment_method_id"] == working]
    await ok(
        await shop.client.post(
            f"/billing/orgs/{shop.org}/payment-methods/{new['id']}/default", headers=shop.headers
        )
    )
    collection_clock.set(collection_clock() + timedelta(days=5, seconds=1))
    async with runtime.uow() as uow:
        assert await retry_due_payments(uow) == 1
    await settle(runtime)

    paid = await invoice_of(shop, invoice["id"])
    assert (paid["status"], paid["attempt_count"], paid["next_payment_attempt"]) == ("paid", 2, None)
    requests = fake_stripe.requests_to("/v1/payment_intents")
    assert [r.form["metadata"]["keel_attempt"] for r in requests] == ["1", "2", "3"]
    assert [r.form["payment_method"] for r in requests] == [declining, declining, working]
    assert len({r.idempotency_key for r in requests}) == 3  # one outbox row, one key per attempt
    assert announced["metadata"]


async def test_the_last_retry_leaves_no_next_attempt(
    shop: Shop, runtime: Runtime, fake_stripe: FakeStripe, collection_clock: Clock
) -> None:
    collection_clock.set(datetime.now(UTC))
    customer = await collect_with_stripe(
        shop.client, runtime, shop.org, shop.account, shop.headers, collection_method="charge_automatically"
    )
    await attach(shop.client, runtime, customer, card_id("pm_card_chargeDeclined"))
    invoice = await first_invoice(shop)
    await settle(runtime)
    for days in (3, 5, 7):
        collection_clock.set(collection_clock() + timedelta(days=days, seconds=1))
        async with runtime.uow() as uow:
            assert await retry_due_payments(uow) == 1
        await settle(runtime)
    final = await invoice_of(shop, invoice["id"])
    assert (final["status"], final["attempt_count"], final["next_payment_attempt"]) == ("open", 4, None)
    assert len(await events_of(runtime, "billing.invoice.payment_failed", invoice["id"])) == 4


async def test_a_refused_charge_counts_as_a_failed_attempt_and_is_not_called_again(
    shop: Shop, runtime: Runtime, fake_stripe: FakeStripe
) -> None:
    await collect_with_stripe(
        shop.client, runtime, shop.org, shop.account, shop.headers, collection_method="charge_automatically"
    )
    invoice = await first_invoice(shop)  # no payment method at all: Stripe answers 400
    await settle(runtime)
    (call,) = await calls(runtime, org_id=shop.org, action="payment_intent.create")
    assert call["status"] == "dead"
    assert "payment method" in call["last_error"]
    failed = await invoice_of(shop, invoice["id"])
    assert failed["attempt_count"] == 1
    assert failed["last_payment_error"]["code"] == "parameter_missing"
    assert failed["last_payment_error"]["payment_intent"] is None
    await make_due(runtime)
    await drain_calls(runtime)
    assert len(fake_stripe.requests_to("/v1/payment_intents")) == 1


async def test_only_operators_choose_the_provider(
    shop: Shop,
    make_person: MakePerson,  # noqa: F811
) -> None:
    admin = await make_person("Billing admin")
    operator = Person(id=uuid.uuid4(), email="operator@example.test", headers=shop.headers)
    await join(shop.client, shop.org, operator, admin, "billing_admin")
    url = f"/billing/orgs/{shop.org}/accounts/{shop.account}"
    r = await shop.client.patch(url, json={"provider": "stripe"}, headers=admin.headers)
    assert_problem(r, 403, "provider_operators_only")
    r = await shop.client.patch(
        url, json={"collection_method": "charge_automatically"}, headers=admin.headers
    )
    assert (await ok(r))["collection_method"] == "charge_automatically"
    r = await shop.client.patch(url, json={"provider": "manual"}, headers=admin.headers)  # unchanged: fine
    assert (await ok(r))["provider"] == "manual"
    r = await shop.client.patch(url, json={"collection_method": "by_carrier_pigeon"}, headers=admin.headers)
    assert r.status_code in (400, 422)
    r = await shop.client.patch(url, json={"days_until_due": 366}, headers=admin.headers)
    assert r.status_code in (400, 422)
