"""Refunds: operators refund a payment in part or in full, never beyond what it paid (ten
concurrent requests included); the provider's answer (Stripe refund events, or an operator for
a manual payment) settles them; the invoice shows what was refunded; Idempotency-Key holds."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import text

from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.money_back import (
    audited,
    billing_admin,
    get_invoice,
    manual_payment,
    paid_invoice,
    patronage,
    send,
)
from tests.entitlements.conftest import ok, person_headers
from tests.organization.helpers import assert_problem


async def refunds_of(
    shop: Shop, payment_id: str, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    page = await ok(await shop.client.get(refunds_url(shop, payment_id), headers=headers or shop.headers))
    items: list[dict[str, Any]] = page["items"]
    return items


def refunds_url(shop: Shop, payment_id: str) -> str:
    return f"/billing/orgs/{shop.org}/payments/{payment_id}/refunds"


async def refund(shop: Shop, payment_id: str, **body: Any) -> dict[str, Any]:
    r = await shop.client.post(
        refunds_url(shop, payment_id), json={"reason": "requested_by_customer", **body}, headers=shop.headers
    )
    result: dict[str, Any] = await ok(r, 201)
    return result


def stripe_refund(keel_refund: dict[str, Any], status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": extra.pop("id", f"re_{uuid.uuid4().hex}"),
        "object": "refund",
        "amount": keel_refund["amount"],
        "currency": keel_refund["currency"].lower(),
        "payment_intent": keel_refund["provider_payment_id"],
        "status": status,
        "metadata": {"keel_refund_id": keel_refund["id"]},
        **extra,
    }


async def test_an_operator_refunds_part_then_the_rest_and_the_invoice_shows_it(
    shop: Shop, runtime: Runtime
) -> None:
    invoice, payment = await paid_invoice(shop, runtime, unit_amount=1000)
    assert (invoice["amount_paid"], invoice["amount_refunded"]) == (1000, 0)

    part = await refund(shop, payment["id"], amount=300)
    assert (part["status"], part["amount"], part["currency"], part["provider"]) == (
        "pending",
        300,
        "EUR",
        "stripe",
    )
    assert (part["payment_id"], part["invoice_id"], part["reason"]) == (
        payment["id"], invoice["id"], "requested_by_customer",
    )  # fmt: skip
    assert part["provider_payment_id"] == payment["provider_payment_id"]
    assert (await get_invoice(shop, invoice["id"]))["amount_refunded"] == 300

    too_much = await shop.client.post(
        refunds_url(shop, payment["id"]), json={"reason": "duplicate", "amount": 701}, headers=shop.headers
    )
    assert_problem(too_much, 409, "refund_exceeds_payment")
    rest = await refund(shop, payment["id"])  # no amount: everything not yet refunded
    assert rest["amount"] == 700
    again = await shop.client.post(
        refunds_url(shop, payment["id"]), json={"reason": "duplicate"}, headers=shop.headers
    )
    assert_problem(again, 409, "payment_fully_refunded")
    assert (await get_invoice(shop, invoice["id"]))["amount_refunded"] == 1000

    listed = await refunds_of(shop, payment["id"])
    assert [r["id"] for r in listed] == [part["id"], rest["id"]]
    in_org = (await ok(await shop.client.get(f"/billing/orgs/{shop.org}/refunds", headers=shop.headers)))[
        "items"
    ]
    assert [r["id"] for r in in_org] == [part["id"], rest["id"]]
    assert await audited(runtime, part["id"]) == ["billing.refund.created"]


async def test_ten_concurrent_refunds_never_exceed_the_payment(shop: Shop, runtime: Runtime) -> None:
    _, payment = await paid_invoice(shop, runtime, unit_amount=1000)
    url = refunds_url(shop, payment["id"])

    def post(body: dict[str, Any]) -> Any:
        return shop.client.post(url, json={"reason": "requested_by_customer", **body}, headers=shop.headers)

    answers = await asyncio.gather(*(post({"amount": 150}) for _ in range(10)))
    assert sorted(r.status_code for r in answers) == [201] * 6 + [409] * 4  # 6 x 150 = 900 <= 1000
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"refund_exceeds_payment"}
    answers = await asyncio.gather(*(post({}) for _ in range(10)))  # each asks for "all the rest"
    assert sorted(r.status_code for r in answers) == [201] + [409] * 9
    assert [r.json()["amount"] for r in answers if r.status_code == 201] == [100]

    async with runtime.engine.connect() as conn:
        total = await conn.scalar(
            text("SELECT sum(amount) FROM billing.refunds WHERE payment_id = :p"), {"p": payment["id"]}
        )
    assert total == payment["amount"] == 1000


async def test_stripe_answers_settle_a_refund_once_and_a_late_failure_gives_the_money_back(
    shop: Shop, runtime: Runtime
) -> None:
    invoice, payment = await paid_invoice(shop, runtime, unit_amount=1000)
    asked = await refund(shop, payment["id"], amount=400)
    answer = stripe_refund(asked, "succeeded")

    await send(shop, runtime, "refund.updated", answer)
    await send(shop, runtime, "refund.updated", answer)  # the same answer again (webhook and API reply)
    (done,) = await refunds_of(shop, payment["id"])
    assert (done["status"], done["provider_refund_id"]) == ("succeeded", answer["id"])
    assert await audited(runtime, asked["id"]) == ["billing.refund.created", "billing.refund.updated"]
    assert await patronage(runtime, shop.org) == [("invoice_paid", 1000), ("refund", -400)]

    # Stripe: a succeeded refund can still fail (the card was closed); matched by its own id now
    await send(
        shop,
        runtime,
        "refund.failed",
        {**answer, "status": "failed", "metadata": {}, "failure_reason": "expired_or_canceled_card"},
    )
    (failed,) = await refunds_of(shop, payment["id"])
    assert (failed["status"], failed["failure_reason"]) == ("failed", "expired_or_canceled_card")
    assert (await get_invoice(shop, invoice["id"]))["amount_refunded"] == 0
    assert await patronage(runtime, shop.org) == [
        ("invoice_paid", 1000),
        ("refund", -400),
        ("refund_reversed", 400),
    ]
    # a failed refund is final, and no longer counts against the payment
    await send(shop, runtime, "refund.updated", answer)
    assert (await refunds_of(shop, payment["id"]))[0]["status"] == "failed"
    retry = await refund(shop, payment["id"])
    assert retry["amount"] == 1000
    # Stripe refused to create it: the provider relay reports a refund without an id, failed
    refused = {**stripe_refund(retry, "failed", failure_reason="charge_already_refunded"), "id": None}
    await send(shop, runtime, "refund.updated", refused)
    statuses = await refunds_of(shop, payment["id"])
    assert [(r["status"], r["provider_refund_id"]) for r in statuses] == [
        ("failed", answer["id"]), ("failed", None),
    ]  # fmt: skip


async def test_a_refund_made_in_the_stripe_dashboard_is_recorded_from_charge_refunded(
    shop: Shop, runtime: Runtime
) -> None:
    invoice, payment = await paid_invoice(shop, runtime, unit_amount=1000)
    outside = {
        "id": f"re_{uuid.uuid4().hex}", "amount": 250, "currency": "eur", "status": "succeeded",
        "reason": "requested_by_customer", "metadata": {},
    }  # fmt: skip
    charge = {
        "id": f"ch_{uuid.uuid4().hex}",
        "object": "charge",
        "payment_intent": payment["provider_payment_id"],
        "amount_refunded": 250,
        "refunds": {"object": "list", "data": [outside]},
    }
    await send(shop, runtime, "charge.refunded", charge)
    await send(shop, runtime, "charge.refunded", charge)
    (recorded,) = await refunds_of(shop, payment["id"])
    assert (recorded["provider_refund_id"], recorded["status"], recorded["amount"]) == (
        outside["id"],
        "succeeded",
        250,
    )
    assert (await get_invoice(shop, invoice["id"]))["amount_refunded"] == 250
    assert await patronage(runtime, shop.org) == [("invoice_paid", 1000), ("refund", -250)]
    unknown = {**outside, "id": f"re_{uuid.uuid4().hex}"}
    await send(
        shop, runtime, "charge.refunded", {**charge, "payment_intent": "pi_x", "refunds": {"data": [unknown]}}
    )
    assert (
        len(
            (await ok(await shop.client.get(f"/billing/orgs/{shop.org}/refunds", headers=shop.headers)))[
                "items"
            ]
        )
        == 1
    )


async def test_a_manual_refund_waits_for_an_operator(shop: Shop, runtime: Runtime) -> None:
    payment_id = await manual_payment(shop, runtime, 5000)
    asked = await refund(shop, payment_id, amount=2000)
    assert (asked["provider"], asked["status"]) == ("manual", "pending")

    done = await ok(await shop.client.post(f"/billing/refunds/{asked['id']}/succeed", headers=shop.headers))
    assert done["status"] == "succeeded"
    same = await ok(await shop.client.post(f"/billing/refunds/{asked['id']}/succeed", headers=shop.headers))
    assert same["status"] == "succeeded"
    assert await audited(runtime, asked["id"]) == ["billing.refund.created", "billing.refund.updated"]

    other = await refund(shop, payment_id)
    assert other["amount"] == 3000
    failed = await ok(await shop.client.post(f"/billing/refunds/{other['id']}/fail", headers=shop.headers))
    assert failed["status"] == "failed"
    r = await shop.client.post(f"/billing/refunds/{other['id']}/succeed", headers=shop.headers)
    assert_problem(r, 409, "refund_failed")
    # a Stripe refund is settled by Stripe, never by hand
    _, paid = await paid_invoice(shop, runtime)
    by_stripe = await refund(shop, paid["id"], amount=10)
    r = await shop.client.post(f"/billing/refunds/{by_stripe['id']}/succeed", headers=shop.headers)
    assert_problem(r, 409, "refund_not_manual")
    assert_problem(await shop.client.post(f"/billing/refunds/{uuid.uuid4()}/fail", headers=shop.headers), 404)


async def test_one_idempotency_key_refunds_once(shop: Shop, runtime: Runtime) -> None:
    _, payment = await paid_invoice(shop, runtime, unit_amount=1000)
    key = {**shop.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {"reason": "duplicate", "amount": 600}
    first, second = await asyncio.gather(
        shop.client.post(refunds_url(shop, payment["id"]), json=body, headers=key),
        shop.client.post(refunds_url(shop, payment["id"]), json=body, headers=key),
    )
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["id"] == second.json()["id"]
    third = await shop.client.post(refunds_url(shop, payment["id"]), json=body, headers=key)
    assert (third.status_code, third.json()["id"]) == (201, first.json()["id"])
    other = await shop.client.post(refunds_url(shop, payment["id"]), json={**body, "amount": 1}, headers=key)
    assert_problem(other, 422, "idempotency_key_reused")
    assert len(await refunds_of(shop, payment["id"])) == 1


async def test_only_operators_refund_and_billing_admins_read(shop: Shop, runtime: Runtime) -> None:
    _, payment = await paid_invoice(shop, runtime)
    admin = await billing_admin(shop, runtime)
    r = await shop.client.post(refunds_url(shop, payment["id"]), json={"reason": "duplicate"}, headers=admin)
    assert_problem(r, 403)
    r = await shop.client.post(f"/billing/refunds/{uuid.uuid4()}/succeed", headers=admin)
    assert_problem(r, 403)
    await refund(shop, payment["id"], amount=5)
    assert len(await refunds_of(shop, payment["id"], admin)) == 1
    assert (
        len((await ok(await shop.client.get(f"/billing/orgs/{shop.org}/refunds", headers=admin)))["items"])
        == 1
    )
    stranger = await person_headers(runtime, "Stranger")
    assert_problem(await shop.client.get(f"/billing/orgs/{shop.org}/refunds", headers=stranger), 404)
    # another organization's payment is not found under this one
    assert_problem(
        await shop.client.post(
            f"/billing/orgs/{uuid.uuid4()}/payments/{payment['id']}/refunds", json={"reason": "duplicate"},
            headers=shop.headers,
        ),
        404,
        "payment_not_found",
    )  # fmt: skip
    for body in (
        {"reason": "because"},
        {"reason": "duplicate", "amount": 0},
        {"reason": "duplicate", "x": 1},
    ):
        r = await shop.client.post(refunds_url(shop, payment["id"]), json=body, headers=shop.headers)
        assert r.status_code in (400, 422), r.text
