"""Payment methods: a projection of Stripe's events (never a card number), one default per
account, listed, defaulted and detached by the organization's billing admins; a detachment is
asked of Stripe through the provider relay and shows once Stripe confirms it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.entitlements.conftest import ok
from tests.organization.conftest import make_person  # noqa: F401  (fixture)
from tests.organization.helpers import MakePerson, Person, assert_problem, join
from tests.support.fake_stripe import FakeStripe
from tests.support.payments import (
    account_of,
    attach,
    calls,
    card,
    collect_with_stripe,
    events_of,
    send_webhook,
    settle,
)


def pm_id() -> str:
    return f"pm_{uuid.uuid4().hex[:14]}"


@pytest.fixture
async def customer(shop: Shop, runtime: Runtime, fake_stripe: FakeStripe) -> str:
    return await collect_with_stripe(shop.client, runtime, shop.org, shop.account, shop.headers)


async def methods(shop: Shop, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = (
        await ok(
            await shop.client.get(
                f"/billing/orgs/{shop.org}/payment-methods", headers=headers or shop.headers
            )
        )
    )["items"]
    return result


async def billing_admin(shop: Shop, make: MakePerson, role: str = "billing_admin") -> Person:
    person = await make(role)
    operator = Person(id=uuid.uuid4(), email="operator@example.test", headers=shop.headers)
    await join(shop.client, shop.org, operator, person, role)
    return person


async def test_an_attached_card_is_projected_without_its_number_and_becomes_the_default(
    shop: Shop, runtime: Runtime, customer: str
) -> None:
    first = pm_id()
    method = card(first, customer, brand="mastercard", last4="4444", exp_year=2031)
    method["card"]["number"] = "5555555555554444"  # Stripe never sends it; Keel would not keep it
    method["card"]["cvc"] = "123"
    await send_webhook(shop.client, runtime, "payment_method.attached", method)

    (listed,) = await methods(shop)
    assert {k: listed[k] for k in ("provider", "provider_payment_method_id", "type", "brand", "last4")} == {
        "provider": "stripe", "provider_payment_method_id": first, "type": "card", "brand": "mastercard",
        "last4": "4444",
    }  # fmt: skip
    assert (listed["exp_month"], listed["exp_year"], listed["billing_country"]) == (12, 2031, "FR")
    assert (listed["is_default"], listed["status"]) == (True, "attached")
    assert (await account_of(shop.client, shop.org, shop.account, shop.headers))[
        "default_payment_method_id"
    ] == listed["id"]
    async with runtime.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT to_jsonb(p)::text FROM billing.payment_methods p WHERE id = :id"),
                {"id": listed["id"]},
            )
        ).scalar_one()
    assert "5555555555554444" not in row
    assert "cvc" not in row
    assert "number" not in row
    assert len(await events_of(runtime, "billing.payment_method.attached", listed["id"])) == 1

    # the same event again, or the setup intent that brought it, changes nothing
    await send_webhook(shop.client, runtime, "payment_method.attached", method)
    await send_webhook(
        shop.client, runtime, "setup_intent.succeeded",
        {"id": "seti_1", "object": "setup_intent", "customer": customer, "payment_method": first,
         "payment_method_types": ["card"], "status": "succeeded"},
    )  # fmt: skip
    assert len(await methods(shop)) == 1
    assert len(await events_of(runtime, "billing.payment_method.attached", listed["id"])) == 1


async def test_a_setup_intent_projects_its_method_and_an_update_changes_the_expiry(
    shop: Shop, runtime: Runtime, customer: str
) -> None:
    method = pm_id()
    await send_webhook(
        shop.client, runtime, "setup_intent.succeeded",
        {"id": f"seti_{uuid.uuid4().hex}", "object": "setup_intent", "customer": customer,
         "payment_method": method, "payment_method_types": ["sepa_debit"], "status": "succeeded"},
    )  # fmt: skip
    (listed,) = await methods(shop)
    assert (listed["type"], listed["last4"], listed["is_default"]) == ("sepa_debit", None, True)

    updated = card(method, customer, exp_year=2034)
    updated["type"] = "sepa_debit"
    updated["sepa_debit"] = {"last4": "3000", "bank_code": "37040044", "country": "DE"}
    await send_webhook(shop.client, runtime, "payment_method.updated", updated)
    (listed,) = await methods(shop)
    assert listed["last4"] == "3000"
    assert len(await events_of(runtime, "billing.payment_method.updated", listed["id"])) == 1


async def test_one_default_per_account(shop: Shop, runtime: Runtime, customer: str) -> None:
    first, second = pm_id(), pm_id()
    await attach(shop.client, runtime, customer, first)
    await attach(shop.client, runtime, customer, second, last4="1881")
    listed = {m["provider_payment_method_id"]: m for m in await methods(shop)}
    assert (listed[first]["is_default"], listed[second]["is_default"]) == (True, False)

    r = await shop.client.post(
        f"/billing/orgs/{shop.org}/payment-methods/{listed[second]['id']}/default", headers=shop.headers
    )
    assert (await ok(r))["is_default"] is True
    listed = {m["provider_payment_method_id"]: m for m in await methods(shop)}
    assert (listed[first]["is_default"], listed[second]["is_default"]) == (False, True)
    account = await account_of(shop.client, shop.org, shop.account, shop.headers)
    assert account["default_payment_method_id"] == listed[second]["id"]

    async with runtime.engine.connect() as conn:
        with pytest.raises(Exception, match="uq_payment_methods_one_default"):
            await conn.execute(
                text("UPDATE billing.payment_methods SET is_default = true WHERE id = :id"),
                {"id": listed[first]["id"]},
            )


async def test_detaching_asks_stripe_and_shows_once_stripe_confirms(
    shop: Shop, runtime: Runtime, customer: str, fake_stripe: FakeStripe
) -> None:
    method = pm_id()
    await attach(shop.client, runtime, customer, method)
    (listed,) = await methods(shop)

    r = await shop.client.delete(
        f"/billing/orgs/{shop.org}/payment-methods/{listed['id']}", headers=shop.headers
    )
    asked = await ok(r, 202)
    assert (asked["status"], asked["is_default"]) == ("attached", True)
    assert asked["detach_requested_at"] is not None
    (call,) = await calls(runtime, org_id=shop.org, action="payment_method.detach")
    assert fake_stripe.requests_to(f"/v1/payment_methods/{method}/detach") == []
    again = await shop.client.delete(
        f"/billing/orgs/{shop.org}/payment-methods/{listed['id']}", headers=shop.headers
    )
    await ok(again, 202)  # asking twice asks once

    await settle(runtime)

    (request,) = fake_stripe.requests_to(f"/v1/payment_methods/{method}/detach")
    assert request.idempotency_key == f"keel-{call['id']}"
    (detached,) = await methods(shop)
    assert (detached["status"], detached["is_default"]) == ("detached", False)
    assert detached["detached_at"] is not None
    account = await account_of(shop.client, shop.org, shop.account, shop.headers)
    assert account["default_payment_method_id"] is None
    assert len(await events_of(runtime, "billing.payment_method.detached", listed["id"])) == 1
    r = await shop.client.post(
        f"/billing/orgs/{shop.org}/payment-methods/{listed['id']}/default", headers=shop.headers
    )
    assert_problem(r, 409, "payment_method_detached")

    # Stripe's own webhook for it later changes nothing more
    await send_webhook(shop.client, runtime, "payment_method.detached", card(method, None))
    assert len(await events_of(runtime, "billing.payment_method.detached", listed["id"])) == 1


async def test_billing_admins_manage_them_and_members_do_not(
    shop: Shop,
    runtime: Runtime,
    customer: str,
    make_person: MakePerson,  # noqa: F811
) -> None:
    await attach(shop.client, runtime, customer, pm_id())
    await attach(shop.client, runtime, customer, pm_id())
    admin = await billing_admin(shop, make_person)
    member = await billing_admin(shop, make_person, role="member")
    listed = await methods(shop, admin.headers)
    assert len(listed) == 2
    (other,) = [m for m in listed if not m["is_default"]]
    r = await shop.client.post(
        f"/billing/orgs/{shop.org}/payment-methods/{other['id']}/default", headers=admin.headers
    )
    assert (await ok(r))["is_default"] is True

    r = await shop.client.get(f"/billing/orgs/{shop.org}/payment-methods", headers=member.headers)
    assert r.status_code == 403
    r = await shop.client.delete(
        f"/billing/orgs/{shop.org}/payment-methods/{other['id']}", headers=member.headers
    )
    assert r.status_code == 403

    stranger = await make_person("Stranger")
    r = await shop.client.get(f"/billing/orgs/{shop.org}/payment-methods", headers=stranger.headers)
    assert r.status_code == 404
    r = await shop.client.post(
        f"/billing/orgs/{shop.org}/payment-methods/{uuid.uuid4()}/default", headers=admin.headers
    )
    assert_problem(r, 404, "payment_method_not_found")


async def test_a_method_of_a_customer_keel_does_not_know_is_ignored(
    shop: Shop, runtime: Runtime, customer: str
) -> None:
    await send_webhook(shop.client, runtime, "payment_method.attached", card(pm_id(), "cus_not_ours"))
    assert await methods(shop) == []
