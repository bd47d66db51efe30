"""Tax on invoices: which rate applies to an account's lines, the tax rows written when an
invoice is finalized, the same figures previewed without writing, and the taxes of invoices
read back (one query for a whole page of them).

Which tax applies (stated in modules/billing/README.md and ADR 0022):
1. EU reverse charge: an account with a VERIFIED `eu_vat` tax id (`"verified": true`, set by
   operators only: check_tax_id_verification) of its own `address.country`, an EU member
   state other than the issuer's (Settings `billing_issuer_country`, itself in the EU), pays
   no tax. Each taxed line shows 0 tax with `reverse_charge`, naming no rate, and the invoice
   says `reverse_charge: true`.
2. Otherwise the active rate of the account's country and `address.state`, else the active
   rate of its country with no state.
3. No country on the account, or no active rate for it: no tax (no tax rows, `tax` 0).
Lines that bill a credit (a pending charge of kind `credit`: a credit carried forward, a
credit note's credit) are money already settled, tax included: they are never taxed again.
The arithmetic (half-to-even per line, then summed) is in services/tax_math.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import insert, select

from modules.billing.contracts import TaxAmountDTO
from modules.billing.models import BillingAccount, Invoice, InvoiceLineItem, PendingCharge
from modules.billing.models.tax import InvoiceLineTax, TaxRate
from modules.billing.services import job_batch
from modules.billing.services.tax_math import (
    LineTax,
    customer_of,
    invoice_totals,
    line_tax,
    plain_percentage,
    rate_for,
    reverse_charged,
    unverified_claims,
)
from modules.billing.services.tax_math import Rate as MathRate
from platform_core.core.errors import Forbidden
from platform_core.core.ids import uuid7
from platform_core.messaging.uow import UnitOfWork

REVERSE_CHARGE = "Reverse charge"


class TaxableLine(Protocol):
    """What tax needs of a line, written (InvoiceLineItem) or not (invoice_lines.Line)."""

    @property
    def source(self) -> str: ...
    @property
    def source_id(self) -> uuid.UUID | None: ...
    @property
    def amount(self) -> int: ...
    @property
    def discount_amount(self) -> int: ...


@dataclass(frozen=True)
class Decision:
    """What an account pays: reverse charge, a rate, or (neither) no tax."""

    reverse_charge: bool
    rate: TaxRate | None

    @property
    def taxes(self) -> bool:
        return self.reverse_charge or self.rate is not None


async def decide(uow: UnitOfWork, account: BillingAccount) -> Decision:
    customer = customer_of(account.address, account.tax_ids)
    if reverse_charged(customer, uow.settings.billing_issuer_country.upper()):
        return Decision(reverse_charge=True, rate=None)
    if customer.country is None:
        return Decision(reverse_charge=False, rate=None)
    rows = {r.id: r for r in await _active_rates(uow, customer.country)}
    chosen = rate_for(
        customer,
        [
            MathRate(
                id=r.id, country=r.country, state=r.state, percentage=r.percentage, inclusive=r.inclusive
            )
            for r in rows.values()
        ],
    )
    return Decision(reverse_charge=False, rate=rows[chosen.id] if chosen else None)


async def _active_rates(uow: UnitOfWork, country: str) -> Sequence[TaxRate]:
    """The country's active rates; once per job batch (services/job_batch.py)."""
    batch = job_batch.current(uow)
    if batch is not None and country in batch.tax_rates:
        return batch.tax_rates[country]
    stmt = select(TaxRate).where(TaxRate.active, TaxRate.country == country)
    rates = (await uow.session.scalars(stmt)).all()
    if batch is not None:
        batch.tax_rates[country] = rates
    return rates


def check_tax_id_verification(
    uow: UnitOfWork, before: Iterable[dict[str, Any]], after: Iterable[dict[str, Any]]
) -> None:
    """Only operators mark a tax id `verified` (what the EU reverse charge needs): a customer
    may keep a verified id unchanged or drop it, never add or alter one (403)."""
    operator = uow.principal is not None and uow.principal.is_platform_admin
    if not operator and unverified_claims(before, after):
        raise Forbidden(
            "only platform operators verify tax ids; send them without `verified`",
            code="tax_id_verification_operators_only",
        )


async def _credit_lines(uow: UnitOfWork, lines: Iterable[TaxableLine]) -> set[uuid.UUID]:
    """The pending charges among `lines` that are credits (never taxed)."""
    ids = {line.source_id for line in lines if line.source == "pending_charge" and line.source_id}
    if not ids:
        return set()
    found = await uow.session.scalars(
        select(PendingCharge.id).where(PendingCharge.id.in_(ids), PendingCharge.kind == "credit")
    )
    return set(found)


def _amount(decision: Decision, line: TaxableLine) -> TaxAmountDTO:
    if decision.rate is None:  # reverse charge
        return TaxAmountDTO(
            tax_rate_id=None,
            display_name=REVERSE_CHARGE,
            percentage=Decimal(0),
            inclusive=False,
            taxable_amount=line.amount - line.discount_amount,
            amount=0,
            reverse_charge=True,
        )
    rate = decision.rate
    tax: LineTax = line_tax(line.amount, line.discount_amount, rate.percentage, inclusive=rate.inclusive)
    return TaxAmountDTO(
        tax_rate_id=rate.id,
        display_name=rate.display_name,
        percentage=plain_percentage(rate.percentage),
        inclusive=rate.inclusive,
        taxable_amount=tax.taxable_amount,
        amount=tax.amount,
    )


async def _line_amounts(
    uow: UnitOfWork, account: BillingAccount, lines: Sequence[TaxableLine]
) -> tuple[Decision, list[TaxAmountDTO | None]]:
    decision = await decide(uow, account)
    if not decision.taxes:
        return decision, [None] * len(lines)
    credits = await _credit_lines(uow, lines)
    return decision, [None if line.source_id in credits else _amount(decision, line) for line in lines]


def tax_totals(amounts: Iterable[TaxAmountDTO]) -> list[TaxAmountDTO]:
    """An invoice's tax per rate: the SUM of its lines' taxable amounts and taxes (nothing is
    recomputed on the sums), in the order the rates first appear."""
    totals: dict[tuple[uuid.UUID | None, bool], TaxAmountDTO] = {}
    for a in amounts:
        key = (a.tax_rate_id, a.reverse_charge)
        seen = totals.get(key)
        totals[key] = (
            a
            if seen is None
            else TaxAmountDTO(
                tax_rate_id=a.tax_rate_id,
                display_name=a.display_name,
                percentage=a.percentage,
                inclusive=a.inclusive,
                taxable_amount=seen.taxable_amount + a.taxable_amount,
                amount=seen.amount + a.amount,
                reverse_charge=a.reverse_charge,
            )
        )
    return list(totals.values())


async def tax_invoice(
    uow: UnitOfWork, account: BillingAccount, invoice: Invoice, lines: Sequence[InvoiceLineItem]
) -> int:
    """Tax a draft being finalized (the `# tax` step of invoice_finalize.finalize): one
    `invoice_line_taxes` row per taxed line, then the invoice's `tax`, `exclusive_tax`,
    `reverse_charge` and total = subtotal - discount_total + exclusive tax. Returns the tax."""
    assert invoice.status == "draft"
    # nothing of the invoice's half-computed figures is flushed meanwhile (its CHECKs would
    # refuse them); the rows are written now, while the invoice is a draft in the database
    # (their trigger checks it)
    with uow.session.no_autoflush:
        decision, amounts = await _line_amounts(uow, account, lines)
        rows = await _write_line_taxes(uow, invoice, lines, amounts)
    totals = invoice_totals(
        ((line.amount, line.discount_amount) for line in lines), ((r["amount"], r["inclusive"]) for r in rows)
    )
    invoice.subtotal, invoice.discount_total = totals.subtotal, totals.discount_total
    invoice.tax, invoice.exclusive_tax, invoice.total = totals.tax, totals.exclusive_tax, totals.total
    invoice.reverse_charge = decision.reverse_charge and bool(rows)
    return totals.tax


async def _write_line_taxes(
    uow: UnitOfWork,
    invoice: Invoice,
    lines: Sequence[InvoiceLineItem],
    amounts: Sequence[TaxAmountDTO | None],
) -> list[dict[str, Any]]:
    rows = [
        {
            "id": uuid7(),
            "invoice_id": invoice.id,
            "line_id": line.id,
            "tax_rate_id": amount.tax_rate_id,
            "taxable_amount": amount.taxable_amount,
            "amount": amount.amount,
            "inclusive": amount.inclusive,
            "reverse_charge": amount.reverse_charge,
        }
        for line, amount in zip(lines, amounts, strict=True)
        if amount is not None
    ]
    if rows:
        await uow.session.execute(insert(InvoiceLineTax), rows)
    return rows


@dataclass(frozen=True)
class TaxPreview:
    """What finalizing would tax, written nowhere: each line's tax (None: untaxed), in the
    order of the lines, the tax per rate, and the invoice's figures."""

    lines: list[TaxAmountDTO | None]
    total_tax_amounts: list[TaxAmountDTO]
    tax: int
    exclusive_tax: int
    reverse_charge: bool

    def total(self, subtotal: int, discount_total: int) -> int:
        return subtotal - discount_total + self.exclusive_tax


async def preview_tax(uow: UnitOfWork, account: BillingAccount, lines: Sequence[TaxableLine]) -> TaxPreview:
    """The tax `tax_invoice` would write for `lines` now (for the upcoming-invoice preview)."""
    decision, amounts = await _line_amounts(uow, account, lines)
    taxed = [a for a in amounts if a is not None]
    totals = invoice_totals((), ((a.amount, a.inclusive) for a in taxed))
    return TaxPreview(
        lines=amounts,
        total_tax_amounts=tax_totals(taxed),
        tax=totals.tax,
        exclusive_tax=totals.exclusive_tax,
        reverse_charge=decision.reverse_charge and bool(taxed),
    )


async def line_taxes(uow: UnitOfWork, invoice_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, TaxAmountDTO]:
    """The tax of every line of these invoices, by line id, in ONE query (a page of invoices)."""
    ids = list(invoice_ids)
    if not ids:
        return {}
    rows = await uow.session.execute(
        select(InvoiceLineTax, TaxRate.display_name, TaxRate.percentage)
        .outerjoin(TaxRate, TaxRate.id == InvoiceLineTax.tax_rate_id)
        .where(InvoiceLineTax.invoice_id.in_(ids))
    )
    return {
        tax.line_id: TaxAmountDTO(
            tax_rate_id=tax.tax_rate_id,
            display_name=name if name is not None else REVERSE_CHARGE,
            percentage=plain_percentage(percentage) if percentage is not None else Decimal(0),
            inclusive=tax.inclusive,
            taxable_amount=tax.taxable_amount,
            amount=tax.amount,
            reverse_charge=tax.reverse_charge,
        )
        for tax, name, percentage in rows
    }
