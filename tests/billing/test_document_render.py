"""Documents without a database: what an invoice's document says (tax per rate and per line,
discounts, credit, reverse charge, the issuer and the customer), how it is laid out in PDF (wrapped
descriptions, Helvetica's fallback) and in HTML (escaped)."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import msgspec
from pypdf import PdfReader

from modules.billing.contracts import (
    BillingAccountDTO,
    CreditNoteDTO,
    CreditNoteLineDTO,
    InvoiceDTO,
    InvoiceLineDTO,
    TaxAmountDTO,
)
from modules.billing.services.document_html import render_html
from modules.billing.services.document_model import (
    REVERSE_CHARGE_NOTE,
    CreditNoteSummary,
    Document,
    credit_note_document,
    invoice_document,
    issuer_party,
)
from modules.billing.services.document_pdf import render_pdf, system_unicode_font, wrap

AT = datetime(2032, 6, 1, tzinfo=UTC)
ISSUER = issuer_party("Keel eG", "Teststraße 1\\n10115 Berlin", "DE", "DE123456789")
VAT = TaxAmountDTO(
    tax_rate_id=uuid.uuid4(),
    display_name="VAT",
    percentage=Decimal("19.0000"),
    inclusive=False,
    taxable_amount=9000,
    amount=1710,
)
REDUCED = TaxAmountDTO(
    tax_rate_id=uuid.uuid4(),
    display_name="VAT",
    percentage=Decimal("7.5000"),
    inclusive=True,
    taxable_amount=930,
    amount=70,
)


def account(name: str = "Łódź Software Sp. z o.o.") -> BillingAccountDTO:
    return BillingAccountDTO(
        id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        name=name,
        email="ap@lodz.example",
        currency="EUR",
        address={"line1": "ul. Piotrkowska 1", "postal_code": "90-001", "city": "Łódź", "country": "PL"},
        tax_ids=[{"type": "eu_vat", "value": "PL5260250274"}],
        provider_customer_id=None,
        status="active",
        created_at=AT,
        updated_at=AT,
    )


def line(
    description: str, amount: int, *, discount: int = 0, taxes: list[TaxAmountDTO] | None = None
) -> InvoiceLineDTO:
    return InvoiceLineDTO(
        id=uuid.uuid4(),
        source="one_off",
        source_id=None,
        description=description,
        quantity=1,
        unit_amount=amount,
        amount=amount,
        discount_amount=discount,
        period_start=None,
        period_end=None,
        tax_amounts=taxes or [],
    )


def taxed_invoice(**overrides: object) -> InvoiceDTO:
    fields: dict[str, object] = {
        "id": uuid.uuid4(),
        "org_id": uuid.uuid4(),
        "account_id": uuid.uuid4(),
        "subscription_id": None,
        "number": "KEEL-000777",
        "status": "open",
        "currency": "EUR",
        "period_start": None,
        "period_end": None,
        "subtotal": 11000,
        "discount_total": 1000,
        "credit_applied": 500,
        "total": 10710,
        "amount_due": 10210,
        "amount_paid": 0,
        "due_date": AT,
        "finalized_at": AT,
        "paid_at": None,
        "voided_at": None,
        "lines": [
            line("Team plan", 10000, discount=1000, taxes=[VAT]),
            line("Printed manual", 1000, taxes=[REDUCED]),
        ],
        "tax": 1780,
        "exclusive_tax": 1710,
        "total_tax_amounts": [VAT, REDUCED],
        **overrides,
    }
    return InvoiceDTO(**fields)  # type: ignore[arg-type]


def pdf_text(doc: Document, *, system_font: bool = True) -> str:
    reader = PdfReader(io.BytesIO(render_pdf(doc, system_font=system_font)))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def test_tax_per_rate_and_per_line_discounts_and_credit_are_shown() -> None:
    doc = invoice_document(taxed_invoice(), account(), ISSUER, [])
    totals = [(f.label, f.value) for f in doc.totals]
    assert totals == [
        ("Subtotal", "110.00 EUR"),
        ("Discounts", "-10.00 EUR"),
        ("VAT 19% on 90.00 EUR", "17.10 EUR"),
        ("VAT 7.5% included on 9.30 EUR", "0.70 EUR"),
        ("Total", "107.10 EUR"),
        ("Credit applied", "-5.00 EUR"),
        ("Amount due", "102.10 EUR"),
        ("Amount paid", "0.00 EUR"),
    ]
    team, manual = doc.lines
    assert (team.discount, team.amount, team.details) == ("-10.00 EUR", "100.00 EUR", ["VAT 19%: 17.10 EUR"])
    assert manual.details == ["VAT 7.5% included: 0.70 EUR"]
    text = pdf_text(doc)
    assert "VAT 19% on 90.00 EUR 17.10 EUR" in text
    assert "Credit applied -5.00 EUR" in text


def test_a_reverse_charged_invoice_says_so() -> None:
    reverse = TaxAmountDTO(
        tax_rate_id=None,
        display_name="Reverse charge",
        percentage=Decimal(0),
        inclusive=False,
        taxable_amount=10000,
        amount=0,
        reverse_charge=True,
    )
    invoice = taxed_invoice(
        lines=[line("Team plan", 10000, taxes=[reverse])],
        subtotal=10000,
        discount_total=0,
        credit_applied=0,
        total=10000,
        amount_due=10000,
        tax=0,
        exclusive_tax=0,
        total_tax_amounts=[reverse],
        reverse_charge=True,
    )
    doc = invoice_document(invoice, account(), ISSUER, [])
    assert ("Reverse charge on 100.00 EUR", "0.00 EUR") in [(f.label, f.value) for f in doc.totals]
    assert doc.notes == [REVERSE_CHARGE_NOTE]
    assert "Article 196" in pdf_text(doc)


def test_issuer_and_customer_parties() -> None:
    doc = invoice_document(taxed_invoice(), account(), ISSUER, [])
    assert (doc.issuer.name, doc.issuer.address, doc.issuer.tax_ids) == (
        "Keel eG",
        ["Teststraße 1", "10115 Berlin", "DE"],
        ["DE123456789"],
    )
    assert doc.customer.address == ["ul. Piotrkowska 1", "90-001 Łódź", "PL"]
    assert doc.customer.tax_ids == ["eu_vat: PL5260250274"]


def test_an_invoice_lists_its_credit_notes() -> None:
    notes = [
        CreditNoteSummary("KEEL-CN-000003", AT, "issued", 250),
        CreditNoteSummary("KEEL-CN-000004", AT, "void", 100),
    ]
    doc = invoice_document(taxed_invoice(amount_credited=250), account(), ISSUER, notes)
    assert [(f.label, f.value) for f in doc.related] == [
        ("Credit note KEEL-CN-000003 of 2032-06-01", "-2.50 EUR"),
        ("Credit note KEEL-CN-000004 of 2032-06-01 (void)", "-1.00 EUR"),
    ]
    assert ("Credit notes", "-2.50 EUR") in [(f.label, f.value) for f in doc.totals]


def test_a_void_invoice_is_marked_void() -> None:
    doc = invoice_document(taxed_invoice(status="void", voided_at=AT), account(), ISSUER, [])
    assert doc.marker == "VOID"
    assert ("Voided", "2032-06-01") in [(f.label, f.value) for f in doc.facts]


def test_the_pdf_prints_names_as_written_and_helvetica_falls_back_to_question_marks() -> None:
    doc = invoice_document(taxed_invoice(), account("Łódź Software € Ωmega"), ISSUER, [])
    assert system_unicode_font() is not None, "DejaVu Sans (fonts-dejavu-core) is expected on this system"
    assert "Łódź Software € Ωmega" in pdf_text(doc)
    # without a Unicode font: Windows-1252 (the euro sign too) as written, the rest as "?"
    assert "?ód? Software € ?mega" in pdf_text(doc, system_font=False)


def test_descriptions_wrap_between_words_and_inside_overlong_ones() -> None:
    def measure(text: str) -> float:
        return float(len(text))

    assert wrap("short", 10, measure) == ["short"]
    assert wrap("one two three four", 9, measure) == ["one two", "three", "four"]
    assert wrap("x" * 25, 10, measure) == ["x" * 10, "x" * 10, "x" * 5]
    assert wrap("a " + "y" * 12 + " b", 5, measure) == ["a", "yyyyy", "yyyyy", "yy b"]


def test_html_escapes_every_value() -> None:
    hostile = account('"><script>alert(1)</script>')
    invoice = taxed_invoice(lines=[line("<b>bold</b> & co", 11000)], total_tax_amounts=[])
    html = render_html(invoice_document(invoice, hostile, ISSUER, []))
    assert "<script>" not in html
    assert "<b>" not in html
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in html


def test_whatever_an_account_holds_the_first_page_keeps_its_layout() -> None:
    crowded = msgspec.structs.replace(
        account("Crowded\nName\twith breaks"),
        address={f"extra{n}": "a long address line " * 12 for n in range(200)},
        tax_ids=[{"type": "eu_vat", "value": "X" * 300} for _ in range(10)],
    )
    doc = invoice_document(taxed_invoice(), crowded, ISSUER, [])
    first = PdfReader(io.BytesIO(render_pdf(doc))).pages[0].extract_text()
    assert "Crowded Name with breaks" in first
    assert "Description" in first  # the lines table still starts on the first page
    assert "page 1 of" in first


def test_a_credit_note_shows_its_tax_share_and_where_the_money_went() -> None:
    note = CreditNoteDTO(
        id=uuid.uuid4(),
        number="KEEL-CN-000009",
        org_id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        invoice_id=uuid.uuid4(),
        invoice_paid=True,
        status="void",
        currency="JPY",
        reason="product_unsatisfactory",
        memo="Sorry about that",
        amount=11900,
        pre_payment_amount=0,
        refund_amount=10000,
        credit_amount=1900,
        refund_id=None,
        lines=[
            CreditNoteLineDTO(
                id=uuid.uuid4(),
                invoice_line_id=None,
                description="Team plan",
                quantity=1,
                amount=11900,
                tax_amount=1900,
            )
        ],
        created_at=AT,
        voided_at=AT,
        tax_amount=1900,
    )
    doc = credit_note_document(note, "KEEL-000777", account(), ISSUER)
    assert (doc.title, doc.number, doc.marker, doc.filename) == (
        "Credit note",
        "KEEL-CN-000009",
        "VOID",
        "KEEL-CN-000009.pdf",
    )
    assert [(f.label, f.value) for f in doc.totals] == [
        ("Total credited", "11,900 JPY"),
        ("Tax included", "1,900 JPY"),
        ("Refunded", "10,000 JPY"),
        ("Credit for the next invoice", "1,900 JPY"),
    ]
    assert ("Invoice", "KEEL-000777") in [(f.label, f.value) for f in doc.facts]
    assert ("Reason", "Product unsatisfactory") in [(f.label, f.value) for f in doc.facts]
    assert doc.lines[0].details == ["Tax included: 1,900 JPY"]
    assert doc.notes == ["Sorry about that"]
