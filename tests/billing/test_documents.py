"""Invoice and credit note documents over HTTP: the PDF's text, read back with pypdf, shows the
issuer, the customer, the number, the lines and the totals as formatted; the HTML escapes what
the customer wrote; a draft says DRAFT; a credit note shows its number and amount; another
organization's documents do not exist; a 1,000-line invoice runs over pages."""

from __future__ import annotations

import io
import random
import re
import string
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from pypdf import PdfReader

from modules.billing.models import BillingAccount
from modules.billing.services.invoice_finalize import issue_invoice
from modules.billing.services.invoice_lines import Line
from platform_core.messaging.uow import UnitOfWork
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.money_back import get_invoice, open_invoice
from tests.entitlements.conftest import Clock, ok, person_headers
from tests.organization.helpers import assert_problem

APRIL = datetime(2032, 4, 1, 9, tzinfo=UTC)
HOSTILE = '<script>alert("owned")</script> & Sons'


async def document(shop: Shop, path: str, kind: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return await shop.client.get(f"/billing/orgs/{shop.org}/{path}/{kind}", headers=headers or shop.headers)


async def pdf_pages(shop: Shop, path: str) -> list[str]:
    """The text of each page of the document's PDF."""
    r = await document(shop, path, "pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    return [page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages]


def flat(pages: list[str]) -> str:
    return re.sub(r"\s+", " ", " ".join(pages))


async def account_row(uow: UnitOfWork, account_id: str) -> BillingAccount:
    account = await uow.session.get(BillingAccount, uuid.UUID(account_id))
    assert account is not None
    return account


async def update_account(shop: Shop, **fields: Any) -> None:
    await ok(
        await shop.client.patch(
            f"/billing/orgs/{shop.org}/accounts/{shop.account}", json=fields, headers=shop.headers
        )
    )


async def test_an_invoice_pdf_shows_issuer_customer_number_lines_and_totals(shop: Shop, clock: Clock) -> None:
    clock.set(APRIL)
    await update_account(
        shop,
        address={"line1": "Königstraße 12", "postal_code": "70173", "city": "Stuttgart", "country": "AQ"},
        tax_ids=[{"type": "eu_vat", "value": "DE811907980"}],
    )
    invoice = await open_invoice(shop, unit_amount=123456)
    account = await ok(
        await shop.client.get(f"/billing/orgs/{shop.org}/accounts/{shop.account}", headers=shop.headers)
    )

    r = await document(shop, f"invoices/{invoice['id']}", "pdf")
    assert r.headers["content-disposition"] == f'inline; filename="{invoice["number"]}.pdf"'
    text = flat(await pdf_pages(shop, f"invoices/{invoice['id']}"))
    for shown in (
        "Keel Cooperative",  # the issuer (Settings.billing_issuer_name's default)
        f"Invoice {invoice['number']}",
        "Acme Billing",
        "Königstraße 12",
        "70173 Stuttgart",
        "eu_vat: DE811907980",
        account["email"],
        "1 x Team",
        "Issued 2032-04-01",
        "Period 2032-04-01 to 2032-05-01",
        "Total 1,234.56 EUR",
        "Amount due 1,234.56 EUR",
    ):
        assert shown in text, (shown, text)

    html = await document(shop, f"invoices/{invoice['id']}", "html")
    assert html.status_code == 200
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert invoice["number"] in html.text
    assert "1,234.56 EUR" in html.text
    assert "Königstraße 12" in html.text


async def test_tax_shows_per_line_and_per_rate(shop: Shop) -> None:
    state = "".join(random.choices(string.ascii_uppercase + string.digits, k=3))  # a jurisdiction of its own
    await ok(
        await shop.client.post(
            "/billing/tax-rates",
            json={
                "display_name": "VAT",
                "percentage": "19",
                "inclusive": False,
                "country": "IS",
                "state": state,
            },
            headers=shop.headers,
        ),
        201,
    )
    await update_account(shop, address={"country": "IS", "state": state})
    invoice = await open_invoice(shop, unit_amount=10000)
    assert (invoice["tax"], invoice["total"]) == (1900, 11900)

    text = flat(await pdf_pages(shop, f"invoices/{invoice['id']}"))
    for shown in (
        "VAT 19%: 19.00 EUR",
        "Subtotal 100.00 EUR",
        "VAT 19% on 100.00 EUR 19.00 EUR",
        "Total 119.00 EUR",
    ):
        assert shown in text, (shown, text)
    assert "VAT 19% on 100.00 EUR" in (await document(shop, f"invoices/{invoice['id']}", "html")).text


async def test_html_shows_a_hostile_account_name_as_text(shop: Shop) -> None:
    await update_account(shop, name=HOSTILE, address={"line1": "<img src=x onerror=alert(1)>"})
    invoice = await open_invoice(shop)

    r = await document(shop, f"invoices/{invoice['id']}", "html")
    assert r.status_code == 200
    assert "<script>" not in r.text
    assert "<img" not in r.text
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt; &amp; Sons" in r.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in r.text
    assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none': no script
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert HOSTILE in flat(await pdf_pages(shop, f"invoices/{invoice['id']}"))  # a PDF has no markup


async def test_a_credit_note_document_shows_its_number_amount_and_invoice(shop: Shop) -> None:
    invoice = await open_invoice(shop, unit_amount=1000)
    note = await ok(
        await shop.client.post(
            f"/billing/invoices/{invoice['id']}/credit-notes",
            json={"reason": "order_change", "amount": 250, "memo": "one seat too many"},
            headers=shop.headers,
        ),
        201,
    )

    r = await document(shop, f"credit-notes/{note['id']}", "pdf")
    assert r.headers["content-disposition"] == f'inline; filename="{note["number"]}.pdf"'
    text = flat(await pdf_pages(shop, f"credit-notes/{note['id']}"))
    for shown in (
        f"Credit note {note['number']}",
        f"Invoice {invoice['number']}",
        "Reason Order change",
        "Total credited 2.50 EUR",
        "Off the invoice's amount due 2.50 EUR",
        "one seat too many",
        "Acme Billing",
    ):
        assert shown in text, (shown, text)
    html = await document(shop, f"credit-notes/{note['id']}", "html")
    assert note["number"] in html.text
    assert "2.50 EUR" in html.text

    # the invoice's document now lists the note and what is left to pay
    invoice_text = flat(await pdf_pages(shop, f"invoices/{invoice['id']}"))
    assert f"Credit note {note['number']}" in invoice_text
    assert "Amount due 7.50 EUR" in invoice_text
    assert (await get_invoice(shop, invoice["id"]))["amount_due"] == 750


async def test_a_draft_says_draft_and_has_no_number(shop: Shop, runtime: Runtime) -> None:
    async with runtime.uow() as uow:  # as a renewal leaves it, for the finalize delay
        draft = await issue_invoice(
            uow,
            await account_row(uow, shop.account),
            [
                Line(
                    source="one_off",
                    description="Onboarding workshop",
                    amount=2000,
                    quantity=2,
                    unit_amount=1000,
                )
            ],
            finalize_now=False,
        )
    assert (draft.status, draft.number) == ("draft", None)

    r = await document(shop, f"invoices/{draft.id}", "pdf")
    assert r.headers["content-disposition"] == f'inline; filename="draft-{draft.id}.pdf"'
    text = flat(await pdf_pages(shop, f"invoices/{draft.id}"))
    assert "DRAFT" in text
    assert "KEEL-0" not in text
    assert "Number" not in text
    assert "Onboarding workshop" in text
    assert "Total 20.00 EUR" in text
    html = await document(shop, f"invoices/{draft.id}", "html")
    assert '<span class="marker">DRAFT</span>' in html.text


async def test_another_organizations_documents_do_not_exist(shop: Shop, runtime: Runtime) -> None:
    invoice = await open_invoice(shop)
    note = await ok(
        await shop.client.post(
            f"/billing/invoices/{invoice['id']}/credit-notes",
            json={"reason": "duplicate", "amount": 100},
            headers=shop.headers,
        ),
        201,
    )
    other_org = await shop.world.org()
    for path in (f"invoices/{invoice['id']}", f"credit-notes/{note['id']}"):
        for kind in ("pdf", "html"):
            # named under an organization it does not belong to (which the caller may read)
            r = await shop.client.get(f"/billing/orgs/{other_org}/{path}/{kind}", headers=shop.headers)
            assert_problem(
                r, 404, "invoice_not_found" if path.startswith("invoices") else "credit_note_not_found"
            )
            # asked by someone with no standing in the organization
            stranger = await person_headers(runtime, "Stranger")
            assert_problem(await document(shop, path, kind, headers=stranger), 404)
    unknown = await document(shop, f"invoices/{uuid.uuid4()}", "pdf")
    assert_problem(unknown, 404, "invoice_not_found")


async def test_a_thousand_line_invoice_runs_over_several_pages(shop: Shop, runtime: Runtime) -> None:
    async with runtime.uow() as uow:
        account = await account_row(uow, shop.account)
        lines = [
            Line(
                source="one_off",
                description=f"Support ticket #{n}",
                amount=1000 + n,
                quantity=1,
                unit_amount=1000 + n,
            )
            for n in range(1, 1001)
        ]
        invoice = await issue_invoice(uow, account, lines)
    total = sum(1000 + n for n in range(1, 1001))  # 1,500,500 minor units

    pages = await pdf_pages(shop, f"invoices/{invoice.id}")
    assert len(pages) >= 10
    assert all("Description" in page and "Amount" in page for page in pages)  # the heading, repeated
    assert all(f"page {n} of {len(pages)}" in page for n, page in enumerate(pages, start=1))
    text = flat(pages)
    assert all(f"Support ticket #{n} " in text for n in (1, 500, 1000))
    assert "Support ticket #1000" in pages[-1]
    assert "Total 15,005.00 EUR" in flat(pages[-1:])
    assert total == 1_500_500


async def test_the_openapi_document_declares_pdf_and_html(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    for kind, media in (("pdf", "application/pdf"), ("html", "text/html")):
        for resource in ("invoices/{invoice_id}", "credit-notes/{credit_note_id}"):
            ok_response = paths[f"/billing/orgs/{{org_id}}/{resource}/{kind}"]["get"]["responses"]["200"]
            assert list(ok_response["content"]) == [media]
