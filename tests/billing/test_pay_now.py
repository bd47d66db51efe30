"""Paying an open invoice now (POST /billing/orgs/{org}/invoices/{id}/pay): after a declined
charge, the organization's billing admin sets a working card as default and pays at once,
without waiting for the retry schedule; the attempt is the next one (its own request key, so a
scheduled retry at the same moment is the same provider call); a bank-transfer account or a
settled invoice answers 409; members cannot."""

from __future__ import annotations

import uuid

from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.money_back import billing_admin
from tests.billing.test_collection import card_id, first_invoice, invoice_of
from tests.entitlements.conftest import ok
from tests.organization.helpers import Person, join
from tests.support.fake_stripe import FakeStripe
from tests.support.payments import attach, collect_with_stripe, settle


def pay_url(shop: Shop, invoice_id: str) -> str:
    return f"/billing/orgs/{shop.org}/invoices/{invoice_id}/pay"


async def test_a_billing_admin_pays_a_declined_invoice_now_with_a_new_card(
    shop: Shop, runtime: Runtime, fake_stripe: FakeStripe
) -> None:
    customer = await collect_with_stripe(
        shop.client, runtime, shop.org, shop.account, shop.headers, collection_method="charge_automatically"
    )
    await attach(shop.client, runtime, customer, card_id("pm_card_chargeDeclined"))
    invoice = await first_invoice(shop)
    await settle(runtime)
    assert (await invoice_of(shop, invoice["id"]))["attempt_count"] == 1

    admin = await billing_admin(shop, runtime)
    working = card_id()
    await attach(shop.client, runtime, customer, working)
    methods = (await ok(await shop.client.get(f"/billing/orgs/{shop.org}/payment-methods", headers=admin)))[
        "items"
    ]
    (new,) = [m for m in methods if m["provider_payment_method_id"] == working]
    await ok(
        await shop.client.post(f"/billing/orgs/{shop.org}/payment-methods/{new['id']}/default", headers=admin)
    )

    asked = await ok(await shop.client.post(pay_url(shop, invoice["id"]), headers=admin), 202)
    assert (asked["status"], asked["next_payment_attempt"]) == ("open", None)
    await settle(runtime)
    paid = await invoice_of(shop, invoice["id"])
    assert (paid["status"], paid["amount_paid"]) == ("paid", invoice["amount_due"])
    requests = [  # other tests' calls may be drained here too
        r
        for r in fake_stripe.requests_to("/v1/payment_intents")
        if r.form["metadata"]["keel_invoice_id"] == invoice["id"]
    ]
    assert [r.form["metadata"]["keel_attempt"] for r in requests] == ["1", "2"]
    assert requests[-1].form["payment_method"] == working

    r = await shop.client.post(pay_url(shop, invoice["id"]), headers=admin)
    assert (r.status_code, r.json()["code"]) == (409, "invoice_paid")


async def test_pay_now_needs_a_provider_and_the_permission(shop: Shop, runtime: Runtime) -> None:
    invoice = await first_invoice(shop)  # the account pays by bank transfer (manual)
    r = await shop.client.post(pay_url(shop, invoice["id"]), headers=shop.headers)
    assert (r.status_code, r.json()["code"]) == (409, "invoice_not_chargeable")
    r = await shop.client.post(pay_url(shop, str(uuid.uuid4())), headers=shop.headers)
    assert (r.status_code, r.json()["code"]) == (404, "invoice_not_found")

    email = f"{uuid.uuid4().hex[:10]}@example.test"
    from modules.identity import api as identity_api

    async with runtime.uow() as uow:
        person = await identity_api.create_person(uow, kind="individual", display_name="M", email=email)
        token = await identity_api.issue_token(uow, person_id=person.id, name="tests", scopes=["*"])
    member = Person(id=person.id, email=email, headers={"Authorization": f"Bearer {token.token}"})
    await join(
        shop.client, shop.org, Person(id=uuid.uuid4(), email="", headers=shop.headers), member, "member"
    )
    r = await shop.client.post(pay_url(shop, invoice["id"]), headers=member.headers)
    assert r.status_code == 403
