"""Disputes: projected from Stripe's charge.dispute.* events in any order, once per dispute;
a lost dispute counts like a refund (against the payment and in patronage); operators and the
organization's billing admins list them."""

from __future__ import annotations

import uuid
from typing import Any

from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.money_back import audited, billing_admin, paid_invoice, patronage, send
from tests.entitlements.conftest import ok, person_headers
from tests.organization.helpers import assert_problem

DUE_BY = 1_900_000_000  # 2030-03-17T17:46:40Z


def dispute(payment: dict[str, Any], status: str, amount: int = 1000, **extra: Any) -> dict[str, Any]:
    return {
        "id": extra.pop("id", f"dp_{uuid.uuid4().hex}"),
        "object": "dispute",
        "amount": amount,
        "currency": "eur",
        "reason": "fraudulent",
        "status": status,
        "charge": "ch_disputed",
        "payment_intent": payment["provider_payment_id"],
        "evidence_details": {"due_by": DUE_BY},
        **extra,
    }


async def disputes(shop: Shop, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/disputes", headers=headers or shop.headers))
    )["items"]
    return result


async def test_a_lost_dispute_counts_like_a_refund_once(shop: Shop, runtime: Runtime) -> None:
    invoice, payment = await paid_invoice(shop, runtime, unit_amount=1000)
    opened = dispute(payment, "needs_response", amount=600)
    await send(shop, runtime, "charge.dispute.created", opened)
    await send(shop, runtime, "charge.dispute.created", opened)  # redelivered
    (row,) = await disputes(shop)
    assert (row["provider_dispute_id"], row["payment_id"], row["invoice_id"]) == (
        opened["id"], payment["id"], invoice["id"],
    )  # fmt: skip
    assert (row["amount"], row["currency"], row["reason"], row["status"]) == (
        600,
        "EUR",
        "fraudulent",
        "needs_response",
    )
    assert row["evidence_due_by"].startswith("2030-03-17T17:46:40")

    # a disputed payment is not refunded meanwhile: the dispute decides
    url = f"/billing/orgs/{shop.org}/payments/{payment['id']}/refunds"
    r = await shop.client.post(url, json={"reason": "duplicate"}, headers=shop.headers)
    assert_problem(r, 409, "payment_disputed")

    await send(shop, runtime, "charge.dispute.funds_withdrawn", opened)
    await send(shop, runtime, "charge.dispute.updated", {**opened, "status": "under_review"})
    await send(shop, runtime, "charge.dispute.closed", {**opened, "status": "lost"})
    await send(shop, runtime, "charge.dispute.closed", {**opened, "status": "lost"})
    await send(shop, runtime, "charge.dispute.updated", {**opened, "status": "under_review"})  # late: ignored
    (lost,) = await disputes(shop)
    assert (lost["status"], lost["funds_withdrawn_at"] is not None, lost["closed_at"] is not None) == (
        "lost", True, True,
    )  # fmt: skip
    updated = "billing.dispute.updated"  # funds withdrawn, then under review
    assert await audited(runtime, lost["id"]) == [
        "billing.dispute.created",
        updated,
        updated,
        "billing.dispute.closed",
    ]
    assert await patronage(runtime, shop.org) == [("invoice_paid", 1000), ("dispute_lost", -600)]

    # what is left of the payment after the lost dispute may still be refunded, not more
    r = await shop.client.post(url, json={"reason": "duplicate", "amount": 401}, headers=shop.headers)
    assert_problem(r, 409, "refund_exceeds_payment")
    rest = await ok(await shop.client.post(url, json={"reason": "duplicate"}, headers=shop.headers), 201)
    assert rest["amount"] == 400


async def test_a_won_dispute_changes_nothing_and_events_may_come_in_any_order(
    shop: Shop, runtime: Runtime
) -> None:
    _, payment = await paid_invoice(shop, runtime, unit_amount=700)
    won = dispute(payment, "won", amount=700)
    await send(shop, runtime, "charge.dispute.closed", won)  # the closing event first
    await send(shop, runtime, "charge.dispute.created", {**won, "status": "needs_response"})
    await send(shop, runtime, "charge.dispute.funds_reinstated", won)
    (row,) = await disputes(shop)
    assert (row["status"], row["funds_reinstated_at"] is not None) == ("won", True)
    assert await audited(runtime, row["id"]) == [
        "billing.dispute.created", "billing.dispute.closed", "billing.dispute.updated",
    ]  # fmt: skip
    assert await patronage(runtime, shop.org) == [("invoice_paid", 700)]
    # a warning that closed by itself (an inquiry) is closed too
    inquiry = dispute(payment, "warning_needs_response", amount=700)
    await send(shop, runtime, "charge.dispute.created", inquiry)
    await send(shop, runtime, "charge.dispute.closed", {**inquiry, "status": "warning_closed"})
    assert sorted(d["status"] for d in await disputes(shop)) == ["warning_closed", "won"]
    # a dispute of a charge Keel has no payment for is kept, for operators
    stray = dispute({"provider_payment_id": f"pi_{uuid.uuid4().hex}"}, "needs_response")
    await send(shop, runtime, "charge.dispute.created", stray)
    everything = (await ok(await shop.client.get("/billing/disputes", headers=shop.headers)))["items"]
    (kept,) = [d for d in everything if d["provider_dispute_id"] == stray["id"]]
    assert (kept["payment_id"], kept["org_id"]) == (None, None)


async def test_billing_admins_read_their_disputes_and_only_operators_read_all(
    shop: Shop, runtime: Runtime
) -> None:
    _, payment = await paid_invoice(shop, runtime)
    await send(shop, runtime, "charge.dispute.created", dispute(payment, "warning_under_review"))
    admin = await billing_admin(shop, runtime)
    assert [d["status"] for d in await disputes(shop, admin)] == ["warning_under_review"]
    assert_problem(await shop.client.get("/billing/disputes", headers=admin), 403)
    stranger = await person_headers(runtime, "Stranger")
    assert_problem(await shop.client.get(f"/billing/orgs/{shop.org}/disputes", headers=stranger), 404)
