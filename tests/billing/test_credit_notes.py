"""Credit notes: an operator credits an open invoice (off its amount due) or a paid one
(refunded and/or credited to the next invoice), never beyond the invoice; notes have their
own gapless numbers, cannot be edited, and voiding reverses them or is refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.money_back import (
    audited,
    billing_admin,
    get_invoice,
    open_invoice,
    paid_invoice,
    patronage,
    send,
)
from tests.billing.test_payments import deliver, intent
from tests.entitlements.conftest import ok, person_headers
from tests.organization.helpers import assert_problem


async def credit(shop: Shop, invoice_id: str, status: int = 201, **body: Any) -> Any:
    r = await shop.client.post(
        f"/billing/invoices/{invoice_id}/credit-notes",
        json={"reason": "order_change", **body},
        headers=shop.headers,
    )
    if status != 201:
        return assert_problem(r, status)
    return await ok(r, 201)


async def void(shop: Shop, note_id: str) -> Any:
    return await shop.client.post(f"/billing/credit-notes/{note_id}/void", headers=shop.headers)


def number(note: dict[str, Any]) -> int:
    return int(note["number"].rpartition("-")[2])


async def credit_grants_of(shop: Shop) -> list[dict[str, Any]]:
    url = f"/billing/orgs/{shop.org}/accounts/{shop.account}/credit-grants"
    result: list[dict[str, Any]] = (await ok(await shop.client.get(url, headers=shop.headers)))["items"]
    return result


async def test_a_credit_note_on_an_open_invoice_lowers_what_is_due(shop: Shop, runtime: Runtime) -> None:
    invoice = await open_invoice(shop, unit_amount=1000)
    note = await credit(shop, invoice["id"], amount=300, memo="wrong seat count")
    assert note["number"].startswith("KEEL-CN-")
    assert (note["amount"], note["pre_payment_amount"], note["refund_amount"], note["credit_amount"]) == (
        300,
        300,
        0,
        0,
    )
    assert (note["status"], note["invoice_paid"], note["memo"]) == ("issued", False, "wrong seat count")
    assert [(line["invoice_line_id"], line["amount"]) for line in note["lines"]] == [(None, 300)]
    after = await get_invoice(shop, invoice["id"])
    assert (after["status"], after["total"], after["amount_due"], after["amount_credited"]) == (
        "open",
        1000,
        700,
        300,
    )

    # the customer pays what is now due; patronage counts what was paid
    await deliver(shop, runtime, intent(700, invoice["id"]))
    paid = await get_invoice(shop, invoice["id"])
    assert (paid["status"], paid["amount_paid"]) == ("paid", 700)
    assert await patronage(runtime, shop.org) == [("invoice_paid", 700)]

    # never beyond the invoice: 1000 - 300 already credited
    problem = await credit(shop, invoice["id"], status=409, amount=701, refund_amount=701)
    assert problem["code"] == "credit_exceeds_invoice"
    # a note that reduced an amount due that has been paid since cannot be voided
    assert_problem(await void(shop, note["id"]), 409, "credit_note_invoice_settled")
    assert await audited(runtime, note["id"]) == ["billing.credit_note.created"]


async def test_crediting_all_that_is_due_settles_the_invoice_and_voiding_reopens_nothing(
    shop: Shop, runtime: Runtime
) -> None:
    invoice = await open_invoice(shop, unit_amount=800)
    partial = await credit(shop, invoice["id"], amount=200)
    voided = await ok(await void(shop, partial["id"]))
    assert (voided["status"], voided["voided_at"] is not None) == ("void", True)
    assert (await ok(await void(shop, partial["id"])))["status"] == "void"  # voiding twice changes nothing
    restored = await get_invoice(shop, invoice["id"])
    assert (restored["amount_due"], restored["amount_credited"]) == (800, 0)
    assert await audited(runtime, partial["id"]) == [
        "billing.credit_note.created",
        "billing.credit_note.voided",
    ]

    whole = await credit(shop, invoice["id"], amount=800, reason="duplicate")
    settled = await get_invoice(shop, invoice["id"])
    assert (settled["status"], settled["amount_due"], settled["amount_paid"]) == ("paid", 0, 0)
    assert await patronage(runtime, shop.org) == []  # nothing was paid
    assert_problem(await void(shop, whole["id"]), 409, "credit_note_invoice_settled")


async def test_a_paid_invoice_is_credited_by_refund_and_credit_and_patronage_goes_down(
    shop: Shop, runtime: Runtime
) -> None:
    price = await shop.price(unit_amount=1000)
    await shop.subscribe((price["id"], 3))
    (invoice,) = (
        await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers))
    )["items"]
    await deliver(shop, runtime, intent(3000, invoice["id"]))
    (line,) = invoice["lines"]
    assert (line["quantity"], line["amount"]) == (3, 3000)

    one_seat = [{"invoice_line_id": line["id"], "quantity": 1}]
    note = await credit(
        shop,
        invoice["id"],
        reason="product_unsatisfactory",
        lines=one_seat,
        refund_amount=600,
        credit_amount=400,
    )
    assert (note["amount"], note["refund_amount"], note["credit_amount"], note["invoice_paid"]) == (
        1000,
        600,
        400,
        True,
    )
    assert [(x["invoice_line_id"], x["quantity"], x["amount"]) for x in note["lines"]] == [
        (line["id"], 1, 1000)
    ]
    (refund,) = (await ok(await shop.client.get(f"/billing/orgs/{shop.org}/refunds", headers=shop.headers)))[
        "items"
    ]
    assert (refund["id"], refund["amount"], refund["credit_note_id"], refund["reason"]) == (
        note["refund_id"], 600, note["id"], "requested_by_customer",
    )  # fmt: skip
    after = await get_invoice(shop, invoice["id"])
    assert (after["amount_credited"], after["amount_refunded"], after["amount_due"]) == (1000, 600, 3000)
    (granted,) = await credit_grants_of(shop)  # the credited part is the account's credit
    assert (granted["source_type"], granted["source_id"], granted["remaining"]) == (
        "credit_note",
        note["id"],
        400,
    )
    # the credited part counts at once, the refunded part when the refund succeeds
    assert await patronage(runtime, shop.org) == [("invoice_paid", 3000), ("credit_note", -400)]
    await send(shop, runtime, "refund.updated", {
        "id": f"re_{uuid.uuid4().hex}", "amount": 600, "currency": "eur", "status": "succeeded",
        "payment_intent": refund["provider_payment_id"], "metadata": {"keel_refund_id": refund["id"]},
    })  # fmt: skip
    assert await patronage(runtime, shop.org) == [
        ("invoice_paid", 3000),
        ("credit_note", -400),
        ("refund", -600),
    ]

    # a line is never credited beyond itself, nor the invoice beyond its total
    problem = await credit(
        shop, invoice["id"], status=409, lines=[{"invoice_line_id": line["id"], "amount": 2001}]
    )
    assert problem["code"] == "credit_exceeds_line"
    problem = await credit(shop, invoice["id"], status=422, amount=100, refund_amount=50, credit_amount=10)
    assert problem["code"] == "credit_note_split"
    problem = await credit(shop, invoice["id"], status=422, lines=[{"invoice_line_id": str(uuid.uuid4())}])
    assert problem["code"] == "invoice_line_not_found"
    # money that left is not taken back
    assert_problem(await void(shop, note["id"]), 409, "credit_note_refunded")


async def test_voiding_a_credit_gives_it_back_unless_an_invoice_used_it(shop: Shop, runtime: Runtime) -> None:
    invoice, _ = await paid_invoice(shop, runtime, unit_amount=1000)
    first = await credit(
        shop, invoice["id"], amount=250
    )  # all of it as credit (the default on a paid invoice)
    assert (first["credit_amount"], first["refund_amount"]) == (250, 0)
    await ok(await void(shop, first["id"]))
    assert await patronage(runtime, shop.org) == [
        ("invoice_paid", 1000), ("credit_note", -250), ("credit_note_voided", 250),
    ]  # fmt: skip
    (voided,) = await credit_grants_of(shop)  # its credit grant is voided, nothing left
    assert (voided["source_id"], voided["remaining"], voided["voided_at"] is not None) == (
        first["id"],
        0,
        True,
    )

    second = await credit(shop, invoice["id"], amount=100)
    assert number(second) == number(first) + 1  # gapless: the refused attempts above took no number
    next_invoice = await open_invoice(shop, unit_amount=500)  # carries the credit
    assert next_invoice["amount_due"] == 400
    assert_problem(await void(shop, second["id"]), 409, "credit_note_credit_used")
    assert (await get_invoice(shop, invoice["id"]))["amount_credited"] == 100


async def test_credit_notes_are_numbered_without_gaps_and_never_edited(shop: Shop, runtime: Runtime) -> None:
    invoice = await open_invoice(shop, unit_amount=1000)
    a = await credit(shop, invoice["id"], amount=10)
    await credit(shop, invoice["id"], status=409, amount=5000)
    await credit(
        shop, invoice["id"], status=422, amount=10, lines=[{"invoice_line_id": invoice["lines"][0]["id"]}]
    )
    b = await credit(shop, invoice["id"], amount=20)
    assert number(b) == number(a) + 1
    statements = [
        "UPDATE billing.credit_notes SET amount = 1, pre_payment_amount = 1 WHERE id = :n",
        "UPDATE billing.credit_notes SET status = 'issued', voided_at = NULL WHERE id = :v",
        "DELETE FROM billing.credit_notes WHERE id = :n",
        "UPDATE billing.credit_note_lines SET amount = 1 WHERE credit_note_id = :n",
    ]
    await ok(await void(shop, a["id"]))
    for statement in statements:
        with pytest.raises(DBAPIError, match=r"immutable|never deleted|append-only"):
            async with runtime.engine.begin() as conn:
                await conn.execute(text(statement), {"n": b["id"], "v": a["id"]})
    # the invoice's own amounts stay immutable: only what credit notes and refunds move may
    with pytest.raises(DBAPIError, match="immutable"):
        async with runtime.engine.begin() as conn:
            await conn.execute(
                text("UPDATE billing.invoices SET total = 1, subtotal = 1 WHERE id = :i"),
                {"i": invoice["id"]},
            )
    # a draft or void invoice is not credited
    await ok(await shop.client.post(f"/billing/invoices/{invoice['id']}/void", headers=shop.headers))
    assert (await credit(shop, invoice["id"], status=409, amount=1))["code"] == "invoice_void"


async def test_only_operators_issue_and_void_and_billing_admins_read(shop: Shop, runtime: Runtime) -> None:
    invoice = await open_invoice(shop)
    note = await credit(shop, invoice["id"], amount=100)
    admin = await billing_admin(shop, runtime)
    r = await shop.client.post(
        f"/billing/invoices/{invoice['id']}/credit-notes",
        json={"reason": "duplicate", "amount": 1},
        headers=admin,
    )
    assert_problem(r, 403)
    assert_problem(await shop.client.post(f"/billing/credit-notes/{note['id']}/void", headers=admin), 403)
    listed = (await ok(await shop.client.get(f"/billing/orgs/{shop.org}/credit-notes", headers=admin)))[
        "items"
    ]
    assert [n["id"] for n in listed] == [note["id"]]
    one = await ok(
        await shop.client.get(f"/billing/orgs/{shop.org}/credit-notes/{note['id']}", headers=admin)
    )
    assert one == note
    stranger = await person_headers(runtime, "Stranger")
    assert_problem(await shop.client.get(f"/billing/orgs/{shop.org}/credit-notes", headers=stranger), 404)
    r = await shop.client.get(f"/billing/orgs/{shop.org}/credit-notes/{uuid.uuid4()}", headers=admin)
    assert_problem(r, 404, "credit_note_not_found")
    assert_problem(await void(shop, str(uuid.uuid4())), 404, "credit_note_not_found")
