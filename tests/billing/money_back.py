"""Builders for the refund, credit note and dispute tests: an invoice paid through a Stripe
event, a payment recorded by hand for the manual provider, Stripe events, an organization's
billing admin, and the patronage an organization has."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy import text

from modules.identity import api as identity_api
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.test_payments import deliver, intent, payments
from tests.entitlements.conftest import ok
from tests.organization.helpers import Person, join


async def paid_invoice(
    shop: Shop, runtime: Runtime, unit_amount: int = 1000
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new subscription's invoice, paid in full by a Stripe payment: (invoice, payment)."""
    price = await shop.price(unit_amount=unit_amount)
    await shop.subscribe((price["id"], 1))
    invoices = (await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers)))[
        "items"
    ]
    invoice = max(invoices, key=lambda i: i["number"])
    await deliver(shop, runtime, intent(invoice["amount_due"], invoice["id"]))
    (payment,) = [p for p in await payments(shop) if p["invoice_id"] == invoice["id"]]
    return await get_invoice(shop, invoice["id"]), payment


async def open_invoice(shop: Shop, unit_amount: int = 1000) -> dict[str, Any]:
    price = await shop.price(unit_amount=unit_amount)
    await shop.subscribe((price["id"], 1))
    invoices = (await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers)))[
        "items"
    ]
    invoice: dict[str, Any] = max(invoices, key=lambda i: i["number"])
    assert invoice["status"] == "open"
    return invoice


async def get_invoice(shop: Shop, invoice_id: str) -> dict[str, Any]:
    result: dict[str, Any] = await ok(
        await shop.client.get(f"/billing/orgs/{shop.org}/invoices/{invoice_id}", headers=shop.headers)
    )
    return result


async def manual_payment(shop: Shop, runtime: Runtime, amount: int) -> str:
    """A bank transfer an operator recorded (provider `manual`), settling no invoice."""
    payment_id = uuid.uuid4()
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                """INSERT INTO billing.payments (id, org_id, account_id, provider, provider_payment_id,
                       amount, currency, status, note, received_at)
                   VALUES (:id, :org, :account, 'manual', :ref, :amount, 'EUR', 'unmatched',
                       'bank transfer', now())"""
            ),
            {"id": payment_id, "org": shop.org, "account": shop.account, "ref": f"bank-{payment_id.hex}",
             "amount": amount},
        )  # fmt: skip
    return str(payment_id)


def stripe_event(event_type: str, obj: dict[str, Any]) -> bytes:
    return msgspec.json.encode({"id": f"evt_{uuid.uuid4().hex}", "type": event_type, "data": {"object": obj}})


async def send(shop: Shop, runtime: Runtime, event_type: str, obj: dict[str, Any]) -> None:
    await deliver(shop, runtime, stripe_event(event_type, obj))


async def billing_admin(shop: Shop, runtime: Runtime) -> dict[str, str]:
    """A person holding the organization's billing_admin role (and nothing at platform scope)."""
    email = f"{uuid.uuid4().hex[:10]}@example.test"
    async with runtime.uow() as uow:
        person = await identity_api.create_person(uow, kind="individual", display_name="Bill", email=email)
        token = await identity_api.issue_token(uow, person_id=person.id, name="tests", scopes=["*"])
    member = Person(id=person.id, email=email, headers={"Authorization": f"Bearer {token.token}"})
    operator = Person(id=uuid.uuid4(), email="", headers=shop.headers)
    await join(shop.client, shop.org, operator, member, "billing_admin")
    return member.headers


async def patronage(runtime: Runtime, org_id: str) -> list[tuple[str, int]]:
    """(source_type, amount) of the organization's patronage events, oldest first."""
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text(
                """SELECT e.source_type, e.amount FROM cooperative.patronage_events e
                     JOIN cooperative.patrons p ON p.id = e.patron_id
                    WHERE p.org_id = :org ORDER BY e.created_at, e.id"""
            ),
            {"org": org_id},
        )
        return [(r[0], int(r[1])) for r in rows]


async def audited(runtime: Runtime, target_id: str) -> list[str]:
    """The audit actions recorded about `target_id` (still in the outbox or already logged)."""
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text(
                """SELECT action, occurred_at FROM audit.audit_outbox WHERE target_id = :t
                   UNION SELECT action, occurred_at FROM audit.audit_logs WHERE target_id = :t
                   ORDER BY occurred_at"""
            ),
            {"t": target_id},
        )
        return [r[0] for r in rows]
