"""Tax on invoices, through HTTP on PostgreSQL: the rate of the account's state (else its
country) taxes each line, rounded half-to-even per line and summed; inclusive rates are inside
the amounts; a verified EU business of another member state is reverse-charged; no rate, no
tax; negative lines are taxed negative; credit notes give back their tax share; the tax of a
finalized invoice never changes; `keel billing reconcile` checks it; the preview writes
nothing; a page of invoices takes its taxes in one query."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

from modules.billing.models import BillingAccount
from modules.billing.models.tax import InvoiceLineTax
from modules.billing.services.invoice_lines import Line
from modules.billing.services.tax_reconcile import tax_violations
from modules.billing.services.taxes import preview_tax
from modules.reconcile import reconcile
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.entitlements.conftest import Clock, ok

APRIL = datetime(2031, 4, 1, 12, tzinfo=UTC)


def state_code() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(3))


async def tax_rate(shop: Shop, **fields: Any) -> dict[str, Any]:
    body = {"display_name": "VAT", "percentage": "10", "inclusive": False, "country": "DE", **fields}
    result: dict[str, Any] = await ok(
        await shop.client.post("/billing/tax-rates", json=body, headers=shop.headers), 201
    )
    return result


async def locate(shop: Shop, **account: Any) -> None:
    """The account's address (and tax ids), set by the operator (who may verify tax ids)."""
    url = f"/billing/orgs/{shop.org}/accounts/{shop.account}"
    await ok(await shop.client.patch(url, json=account, headers=shop.headers))


async def invoices(shop: Shop) -> list[dict[str, Any]]:
    page = await ok(await shop.client.get(f"/billing/orgs/{shop.org}/invoices", headers=shop.headers))
    items: list[dict[str, Any]] = page["items"]
    return items


async def first_invoice(shop: Shop, *unit_amounts: int) -> dict[str, Any]:
    """Subscribe to one price per amount (quantity 1): the first invoice is finalized at once."""
    prices = [await shop.price(unit_amount=amount) for amount in unit_amounts]
    await shop.subscribe(*((p["id"], 1) for p in prices))
    (invoice,) = await invoices(shop)
    return invoice


async def test_each_line_is_taxed_half_to_even_and_the_invoice_sums_the_lines(shop: Shop) -> None:
    state = state_code()
    rate = await tax_rate(shop, state=state)
    await locate(shop, address={"country": "de", "state": state.lower()})
    invoice = await first_invoice(shop, 1000, 5, 5, 5)

    # 10% of 5 is 0.5 -> 0 on each line: 100 in all (10% of the 1015 summed would be 102)
    assert sorted(line["tax_amounts"][0]["amount"] for line in invoice["lines"]) == [0, 0, 0, 100]
    assert (invoice["subtotal"], invoice["tax"], invoice["exclusive_tax"]) == (1015, 100, 100)
    assert (invoice["total"], invoice["amount_due"], invoice["reverse_charge"]) == (1115, 1115, False)
    assert invoice["total_tax_amounts"] == [
        {
            "tax_rate_id": rate["id"],
            "display_name": "VAT",
            "percentage": "10",
            "inclusive": False,
            "taxable_amount": 1015,
            "amount": 100,
            "reverse_charge": False,
        }
    ]
    read = await ok(
        await shop.client.get(f"/billing/orgs/{shop.org}/invoices/{invoice['id']}", headers=shop.headers)
    )
    assert read == invoice


async def test_an_inclusive_rate_is_inside_the_amounts(shop: Shop) -> None:
    state = state_code()
    await tax_rate(shop, state=state, percentage="20", inclusive=True, display_name="VAT incl.")
    await locate(shop, address={"country": "DE", "state": state})
    invoice = await first_invoice(shop, 1200, 21)
    taxes = sorted(
        (t["taxable_amount"], t["amount"]) for line in invoice["lines"] for t in line["tax_amounts"]
    )
    assert taxes == [(17, 4), (1000, 200)]  # 21 x 20 / 120 = 3.5 -> 4 (even)
    assert (invoice["subtotal"], invoice["tax"], invoice["exclusive_tax"], invoice["total"]) == (
        1221,
        204,
        0,
        1221,
    )
    (per_rate,) = invoice["total_tax_amounts"]
    assert (per_rate["inclusive"], per_rate["taxable_amount"], per_rate["amount"]) == (True, 1017, 204)


async def test_the_country_s_rate_applies_where_the_state_has_none_and_no_rate_means_no_tax(
    shop: Shop,
) -> None:
    country = "Q" + secrets.choice("MNOPQRSTUVWXYZ")
    await locate(shop, address={"country": country, "state": state_code()})
    untaxed = await first_invoice(shop, 1000)
    assert (untaxed["tax"], untaxed["total"], untaxed["total_tax_amounts"]) == (0, 1000, [])
    assert untaxed["lines"][0]["tax_amounts"] == []
    rate = await tax_rate(shop, country=country, percentage="7.5")  # no other test uses Q.
    price = await shop.price(unit_amount=1000)
    await shop.subscribe((price["id"], 1))
    taxed = next(i for i in await invoices(shop) if i["id"] != untaxed["id"])
    assert (taxed["tax"], taxed["total"]) == (75, 1075)
    assert taxed["total_tax_amounts"][0]["tax_rate_id"] == rate["id"]


async def test_a_verified_eu_business_of_another_member_state_is_reverse_charged(shop: Shop) -> None:
    state = state_code()
    await tax_rate(shop, country="FR", state=state, percentage="20")
    await locate(
        shop,
        address={"country": "FR", "state": state},
        tax_ids=[{"type": "eu_vat", "value": "FR12345678901", "verified": True}],
    )
    invoice = await first_invoice(shop, 1000)
    assert (invoice["tax"], invoice["total"], invoice["reverse_charge"]) == (0, 1000, True)
    reverse = {
        "tax_rate_id": None,
        "display_name": "Reverse charge",
        "percentage": "0",
        "inclusive": False,
        "taxable_amount": 1000,
        "amount": 0,
        "reverse_charge": True,
    }
    assert invoice["lines"][0]["tax_amounts"] == [reverse]
    assert invoice["total_tax_amounts"] == [reverse]


async def test_an_unverified_vat_id_pays_its_country_s_tax(shop: Shop) -> None:
    state = state_code()
    await tax_rate(shop, country="FR", state=state, percentage="20")
    await locate(
        shop,
        address={"country": "FR", "state": state},
        tax_ids=[{"type": "eu_vat", "value": "FR12345678901"}],
    )
    invoice = await first_invoice(shop, 1000)
    assert (invoice["tax"], invoice["total"], invoice["reverse_charge"]) == (200, 1200, False)


async def test_a_negative_line_is_taxed_negative(shop: Shop, clock: Clock, runtime: Runtime) -> None:
    state = state_code()
    await tax_rate(shop, state=state, percentage="19")
    await locate(shop, address={"country": "DE", "state": state})
    clock.set(APRIL)
    price = await shop.price(unit_amount=1000)
    await shop.subscribe((price["id"], 2))
    clock.set(APRIL + timedelta(days=30, minutes=1))
    outcome = await runtime.scheduler.run_now("billing.renew_subscriptions")
    assert outcome is not None
    assert outcome.succeeded, outcome
    draft = next(i for i in await invoices(shop) if i["status"] == "draft")
    assert (draft["tax"], draft["lines"][0]["tax_amounts"]) == (0, [])  # taxed when finalized
    r = await shop.client.post(
        f"/billing/invoices/{draft['id']}/lines",
        json={"description": "Goodwill", "quantity": 1, "unit_amount": -500},
        headers=shop.headers,
    )
    await ok(r, 201)
    final = await ok(
        await shop.client.post(f"/billing/invoices/{draft['id']}/finalize", headers=shop.headers)
    )
    taxes = sorted(t["amount"] for line in final["lines"] for t in line["tax_amounts"])
    assert taxes == [-95, 380]
    assert (final["subtotal"], final["tax"], final["total"], final["amount_due"]) == (1500, 285, 1785, 1785)


async def test_credit_notes_give_back_their_tax_share(shop: Shop) -> None:
    state = state_code()
    await tax_rate(shop, state=state, percentage="19")
    await locate(shop, address={"country": "DE", "state": state})
    invoice = await first_invoice(shop, 1000)
    (line,) = invoice["lines"]
    assert invoice["total"] == 1190

    def note(**body: Any) -> Any:
        return shop.client.post(
            f"/billing/invoices/{invoice['id']}/credit-notes",
            json={"reason": "duplicate", **body},
            headers=shop.headers,
        )

    part = await ok(await note(lines=[{"invoice_line_id": line["id"], "amount": 500}]), 201)
    assert (part["amount"], part["tax_amount"], part["lines"][0]["tax_amount"]) == (500, 80, 80)  # 79.83
    # the rest of the line, tax included: all of its tax is given back in the end
    rest = await ok(await note(lines=[{"invoice_line_id": line["id"]}]), 201)
    assert (rest["amount"], rest["tax_amount"]) == (690, 110)
    settled = await ok(
        await shop.client.get(f"/billing/orgs/{shop.org}/invoices/{invoice['id']}", headers=shop.headers)
    )
    assert (settled["amount_credited"], settled["amount_due"], settled["status"]) == (1190, 0, "paid")
    r = await note(amount=1)
    assert r.status_code == 409, r.text


async def test_a_finalized_invoice_s_tax_never_changes_and_reconcile_checks_it(
    shop: Shop, runtime: Runtime
) -> None:
    state = state_code()
    await tax_rate(shop, state=state, percentage="19")
    await locate(shop, address={"country": "DE", "state": state})
    invoice = await first_invoice(shop, 1000, 7)
    line_id = invoice["lines"][0]["id"]
    refused = (
        ("UPDATE billing.invoices SET tax = tax + 1 WHERE id = :i", "immutable"),
        ("UPDATE billing.invoices SET reverse_charge = true, tax = 0, exclusive_tax = 0, total = subtotal"
         " WHERE id = :i", "immutable"),
        ("UPDATE billing.invoice_line_taxes SET amount = 0 WHERE invoice_id = :i", "append-only"),
        ("DELETE FROM billing.invoice_line_taxes WHERE invoice_id = :i", "append-only"),
        ("INSERT INTO billing.invoice_line_taxes (id, invoice_id, line_id, taxable_amount, amount, inclusive,"
         " reverse_charge) VALUES (gen_random_uuid(), :i, :l, 0, 0, false, true)", "finalized"),
    )  # fmt: skip
    for statement, message in refused:
        with pytest.raises(DBAPIError, match=message):
            async with runtime.engine.begin() as conn:
                await conn.execute(text(statement), {"i": invoice["id"], "l": line_id})

    report = await reconcile(runtime)
    assert not [v for v in report.violations if v.subject_id == invoice["id"]], report.violations
    # a broken invoice (triggers off, as only a superuser can) is found, then rolled back
    async with runtime.sessionmaker() as session:
        await session.execute(text("SET LOCAL session_replication_role = replica"))
        await session.execute(
            text("UPDATE billing.invoice_line_taxes SET amount = amount + 1 WHERE invoice_id = :i"),
            {"i": invoice["id"]},
        )
        found = [v for v in await tax_violations(session) if v.subject_id == invoice["id"]]
        await session.rollback()
    assert [v.invariant for v in found] == ["invoice_tax"]


async def test_the_preview_taxes_like_finalizing_and_writes_nothing(shop: Shop, runtime: Runtime) -> None:
    state = state_code()
    await tax_rate(shop, state=state, percentage="19")
    await locate(shop, address={"country": "DE", "state": state})
    lines = [
        Line(source="one_off", description="a", amount=1000, discount_amount=100),
        Line(source="one_off", description="b", amount=-250),
    ]
    async with runtime.uow() as uow:
        before = await uow.session.scalar(select(func.count()).select_from(InvoiceLineTax))
        account = await uow.session.get_one(BillingAccount, shop.account)
        preview = await preview_tax(uow, account, lines)
        after = await uow.session.scalar(select(func.count()).select_from(InvoiceLineTax))
    assert before == after
    assert [t.amount if t else None for t in preview.lines] == [171, -48]  # 171, -47.5 -> -48
    assert (preview.tax, preview.exclusive_tax, preview.total(750, 100)) == (123, 123, 773)
    (per_rate,) = preview.total_tax_amounts
    assert (per_rate.taxable_amount, per_rate.amount) == (650, 123)


async def test_a_page_of_invoices_reads_its_taxes_in_one_query(shop: Shop, runtime: Runtime) -> None:
    state = state_code()
    await tax_rate(shop, state=state, percentage="19")
    await locate(shop, address={"country": "DE", "state": state})
    price = await shop.price(unit_amount=1000)

    async def statements_to_list() -> int:
        count = 0

        def counted(*_: Any) -> None:
            nonlocal count
            count += 1

        event.listen(runtime.engine.sync_engine, "before_cursor_execute", counted)
        try:
            listed = await invoices(shop)
        finally:
            event.remove(runtime.engine.sync_engine, "before_cursor_execute", counted)
        assert all(i["tax"] == 190 and i["lines"][0]["tax_amounts"] for i in listed)
        return count

    await shop.subscribe((price["id"], 1))
    one = await statements_to_list()
    for _ in range(3):
        await shop.subscribe((price["id"], 1))
    assert len(await invoices(shop)) == 4
    assert await statements_to_list() == one
