"""What an invoice or credit note document says, as text, built from billing's DTOs by pure
functions: both renderers (document_html.py, document_pdf.py) lay out the same `Document`, so
the HTML and the PDF never disagree. Amounts are written by services/money_format.py (exact,
nothing rounded); dates are UTC calendar days (`2031-04-01`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any, Literal

from modules.billing.contracts import (
    BillingAccountDTO,
    CreditNoteDTO,
    InvoiceDTO,
    InvoiceLineDTO,
    TaxAmountDTO,
)
from modules.billing.services.money_format import format_money

REVERSE_CHARGE_NOTE = (
    "Reverse charge: VAT is accounted for by the customer (Article 196, Council Directive 2006/112/EC)."
)
_ADDRESS_ORDER = ("line1", "line2", "postal_code", "city", "state", "country")
_VOID = {"void": " (void)"}
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class Party:
    """The issuer or the customer: a name, address lines, tax ids and (customers) an email."""

    name: str
    address: list[str]
    tax_ids: list[str]
    email: str | None = None


@dataclass(frozen=True)
class DocumentLine:
    description: str
    details: list[str]  # the period, each tax
    quantity: str
    unit_amount: str
    discount: str
    amount: str


@dataclass(frozen=True)
class CreditNoteSummary:
    """A credit note as its invoice's document lists it."""

    number: str
    created_at: datetime
    status: str
    amount: int


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    strong: bool = False


@dataclass(frozen=True)
class Document:
    kind: Literal["invoice", "credit_note"]
    title: str  # "Invoice", "Credit note"
    marker: str | None  # "DRAFT", "VOID": shown large beside the title
    number: str | None  # None: a draft, not numbered yet
    status: str
    issuer: Party
    customer: Party
    facts: list[Figure]  # dates and references, in reading order
    lines: list[DocumentLine]
    totals: list[Figure]
    filename: str  # `<number>.pdf`; a draft, not numbered yet, `draft-<id>.pdf`
    notes: list[str] = field(default_factory=list)
    related: list[Figure] = field(default_factory=list)  # an invoice's credit notes


def pdf_filename(name: str) -> str:
    """A name safe in `Content-Disposition` (numbers are `KEEL-000001`: nothing is replaced)."""
    return f"{_UNSAFE_FILENAME.sub('_', name)}.pdf"


def issuer_party(name: str, address: str, country: str, tax_id: str) -> Party:
    """The issuer from Settings: address lines split at newlines (or a literal `\\n`)."""
    lines = [line.strip() for line in address.replace("\\n", "\n").splitlines() if line.strip()]
    return Party(
        name=name, address=[*lines, country] if country else lines, tax_ids=[tax_id] if tax_id else []
    )


def _address(address: dict[str, Any] | None) -> list[str]:
    """A Stripe-shaped address (`line1`, `line2`, `postal_code`, `city`, `state`, `country`), then
    any other value the account holds, so nothing it set is left out."""
    if not address:
        return []
    known = {key: str(address[key]).strip() for key in _ADDRESS_ORDER if address.get(key) not in (None, "")}
    town = " ".join(part for part in (known.get("postal_code"), known.get("city")) if part)
    lines = [known.get("line1"), known.get("line2"), town, known.get("state"), known.get("country")]
    lines += [str(v) for k, v in address.items() if k not in _ADDRESS_ORDER and isinstance(v, str | int)]
    return [line for line in lines if line]


def _tax_id(tax_id: dict[str, Any]) -> str:
    kind, value = tax_id.get("type"), tax_id.get("value")
    if value is None:
        return " ".join(str(v) for v in tax_id.values())
    return f"{kind}: {value}" if kind else str(value)


def customer_party(account: BillingAccountDTO) -> Party:
    return Party(
        name=account.name,
        address=_address(account.address),
        tax_ids=[_tax_id(t) for t in account.tax_ids],
        email=account.email,
    )


def day(at: datetime | None) -> str:
    return "" if at is None else at.strftime("%Y-%m-%d")


def period(start: datetime | None, end: datetime | None) -> str | None:
    return f"{day(start)} to {day(end)}" if start is not None and end is not None else None


def percentage(value: Decimal) -> str:
    """19.0000 -> `19`, 7.5000 -> `7.5`."""
    return format(value.normalize(), "f")


def tax_label(tax: TaxAmountDTO) -> str:
    if tax.reverse_charge:
        return "Reverse charge"
    return f"{tax.display_name} {percentage(tax.percentage)}%{' included' if tax.inclusive else ''}"


def _line(line: InvoiceLineDTO, currency: str) -> DocumentLine:
    details = [p for p in [period(line.period_start, line.period_end)] if p]
    details += [f"{tax_label(t)}: {format_money(t.amount, currency)}" for t in line.tax_amounts]
    return DocumentLine(
        description=line.description,
        details=details,
        quantity="" if line.quantity is None else f"{line.quantity:,}",
        unit_amount="" if line.unit_amount is None else format_money(line.unit_amount, currency),
        discount=format_money(-line.discount_amount, currency) if line.discount_amount else "",
        amount=format_money(line.amount, currency),
    )


def _invoice_totals(inv: InvoiceDTO) -> list[Figure]:
    money = partial(format_money, currency=inv.currency)
    totals = [Figure("Subtotal", money(inv.subtotal))]
    if inv.discount_total:
        totals.append(Figure("Discounts", money(-inv.discount_total)))
    for tax in inv.total_tax_amounts:
        totals.append(Figure(f"{tax_label(tax)} on {money(tax.taxable_amount)}", money(tax.amount)))
    totals.append(Figure("Total", money(inv.total), strong=True))
    if inv.credit_applied:
        totals.append(Figure("Credit applied", money(-inv.credit_applied)))
    if inv.amount_credited:
        totals.append(Figure("Credit notes", money(-inv.amount_credited)))
    totals.append(Figure("Amount due", money(inv.amount_due), strong=True))
    totals.append(Figure("Amount paid", money(inv.amount_paid)))
    if inv.amount_refunded:
        totals.append(Figure("Refunded", money(-inv.amount_refunded)))
    return totals


def invoice_document(
    inv: InvoiceDTO, account: BillingAccountDTO, issuer: Party, notes: list[CreditNoteSummary]
) -> Document:
    """An invoice with its credit notes (`notes`): a draft says DRAFT and has no number."""
    facts = [Figure("Number", inv.number)] if inv.number else []
    facts += [
        Figure(label, day(at))
        for label, at in (
            ("Issued", inv.finalized_at),
            ("Due", inv.due_date),
            ("Paid", inv.paid_at),
            ("Voided", inv.voided_at),
        )
        if at is not None
    ]
    if billed := period(inv.period_start, inv.period_end):
        facts.append(Figure("Period", billed))
    facts += [Figure("Status", inv.status), Figure("Currency", inv.currency)]
    marker = {"draft": "DRAFT", "void": "VOID"}.get(inv.status)
    return Document(
        kind="invoice",
        title="Invoice",
        marker=marker,
        number=inv.number,
        status=inv.status,
        issuer=issuer,
        customer=customer_party(account),
        facts=facts,
        lines=[_line(line, inv.currency) for line in inv.lines],
        totals=_invoice_totals(inv),
        notes=[REVERSE_CHARGE_NOTE] if inv.reverse_charge else [],
        related=[
            Figure(
                f"Credit note {note.number} of {day(note.created_at)}{_VOID.get(note.status, '')}",
                format_money(-note.amount, inv.currency),
            )
            for note in notes
        ],
        filename=pdf_filename(inv.number or f"draft-{inv.id}"),
    )


def credit_note_document(
    note: CreditNoteDTO, invoice_number: str, account: BillingAccountDTO, issuer: Party
) -> Document:
    """A credit note: what it credits against which invoice, and where the money went."""
    money = partial(format_money, currency=note.currency)
    facts = [Figure("Number", note.number), Figure("Issued", day(note.created_at))]
    if note.voided_at is not None:
        facts.append(Figure("Voided", day(note.voided_at)))
    facts += [
        Figure("Invoice", invoice_number),
        Figure("Reason", note.reason.replace("_", " ").capitalize()),
        Figure("Status", note.status),
        Figure("Currency", note.currency),
    ]
    totals = [Figure("Total credited", money(note.amount), strong=True)]
    if note.tax_amount:
        totals.append(Figure("Tax included", money(note.tax_amount)))
    totals += [
        Figure(label, money(amount))
        for label, amount in (
            ("Off the invoice's amount due", note.pre_payment_amount),
            ("Refunded", note.refund_amount),
            ("Credit for the next invoice", note.credit_amount),
        )
        if amount
    ]
    return Document(
        kind="credit_note",
        title="Credit note",
        marker="VOID" if note.status == "void" else None,
        number=note.number,
        status=note.status,
        issuer=issuer,
        customer=customer_party(account),
        facts=facts,
        lines=[
            DocumentLine(
                description=line.description,
                details=[f"Tax included: {money(line.tax_amount)}"] if line.tax_amount else [],
                quantity="" if line.quantity is None else f"{line.quantity:,}",
                unit_amount="",
                discount="",
                amount=money(line.amount),
            )
            for line in note.lines
        ],
        totals=totals,
        filename=pdf_filename(note.number),
        notes=[note.memo] if note.memo else [],
    )
