"""Draft invoices: the lines of what is billed plus every pending charge of the account, written
without a number. A draft may still change (operators add one-off lines) until
invoice_finalize.py finalizes it; nothing is due on it until then."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from modules.billing.contracts import InvoiceDTO
from modules.billing.models import BillingAccount, Invoice, InvoiceLineItem, PendingCharge
from modules.billing.schemas import AddInvoiceLine
from modules.billing.services.catalog import price_row
from modules.billing.services.discounts import discount_lines
from modules.billing.services.invoice_lines import Line
from modules.billing.services.invoices import invoice_dto, invoice_lines, locked_invoice
from platform_core.core.errors import Conflict, Unprocessable
from platform_core.messaging.uow import UnitOfWork


async def create_draft(
    uow: UnitOfWork,
    account: BillingAccount,
    lines: list[Line],
    *,
    subscription_id: uuid.UUID | None = None,
    period: tuple[datetime, datetime] | None = None,
    finalize_at: datetime | None = None,
    take_pending: bool = True,
) -> tuple[Invoice, list[InvoiceLineItem]]:
    """A draft of `lines` plus the account's open pending charges (in its currency), which it
    takes: a charge belongs to one invoice. The finalize job finalizes it at `finalize_at`
    (None: only an explicit finalize does). `take_pending=False`: `lines` alone (a paused
    subscription's withheld period, services/pauses.py)."""
    pending = (
        []
        if not take_pending
        else list(
            await uow.session.scalars(
                select(PendingCharge)
                .where(
                    PendingCharge.account_id == account.id,
                    PendingCharge.invoice_id.is_(None),
                    PendingCharge.currency == account.currency,
                )
                .order_by(PendingCharge.created_at, PendingCharge.id)
                .with_for_update()
            )
        )
    )
    lines = lines + [
        Line(
            source="metered_usage"
            if p.kind == "metered_usage"
            else "pending_charge",  # services/metered_usage.py
            source_id=p.id,
            description=p.description,
            amount=p.amount,
            period_start=p.period_start,
            period_end=p.period_end,
            price_id=p.price_id,
        )
        for p in pending
    ]
    lines = await discount_lines(uow, account, subscription_id, lines)  # services/discounts.py
    invoice = Invoice(
        org_id=account.org_id,
        account_id=account.id,
        subscription_id=subscription_id,
        status="draft",
        currency=account.currency,
        period_start=period[0] if period else None,
        period_end=period[1] if period else None,
        collection_method=account.collection_method,
        auto_finalize_at=finalize_at,
        subtotal=0,
        discount_total=0,
        total=0,
        credit_applied=0,
        amount_due=0,
    )
    _add_totals(invoice, lines)  # inserted with its totals: no UPDATE after the lines
    uow.session.add(invoice)
    await uow.session.flush()
    rows = _line_rows(invoice, lines)
    uow.session.add_all(rows)
    for charge in pending:
        charge.invoice_id = invoice.id
    await uow.session.flush()
    return invoice, rows


def _add_totals(invoice: Invoice, lines: list[Line]) -> None:
    invoice.subtotal += sum(line.amount for line in lines)
    invoice.discount_total += sum(line.discount_amount for line in lines)
    invoice.total = invoice.subtotal - invoice.discount_total


async def _append(uow: UnitOfWork, invoice: Invoice, lines: list[Line]) -> list[InvoiceLineItem]:
    rows = _line_rows(invoice, lines)
    uow.session.add_all(rows)
    _add_totals(invoice, lines)
    await uow.session.flush()
    return rows


def _line_rows(invoice: Invoice, lines: list[Line]) -> list[InvoiceLineItem]:
    return [
        InvoiceLineItem(
            invoice_id=invoice.id,
            source=line.source,
            source_id=line.source_id,
            description=line.description,
            quantity=line.quantity,
            unit_amount=line.unit_amount,
            amount=line.amount,
            discount_amount=line.discount_amount,
            period_start=line.period_start,
            period_end=line.period_end,
            price_id=line.price_id,
        )
        for line in lines
    ]


async def add_line(uow: UnitOfWork, invoice_id: uuid.UUID, data: AddInvoiceLine) -> InvoiceDTO:
    """An operator's one-off line on a draft: `quantity` x `unit_amount`, or x the unit amount
    of a one-time `price_id` in the invoice's currency. A finalized invoice never changes."""
    invoice = await locked_invoice(uow, invoice_id)
    if invoice.status != "draft":
        raise Conflict(
            f"invoice {invoice.number} is {invoice.status}; only a draft takes lines",
            code="invoice_not_draft",
        )
    if (data.unit_amount is None) == (data.price_id is None):
        raise Unprocessable("give unit_amount or price_id, not both", code="line_amount_shape")
    unit_amount = data.unit_amount
    if data.price_id is not None:
        price = await price_row(uow, data.price_id)
        if price.type != "one_time" or price.billing_scheme != "per_unit":
            raise Unprocessable(
                f"price {price.id} is not a one-time per-unit price", code="price_not_one_time"
            )
        if price.currency != invoice.currency:
            raise Unprocessable(
                f"price {price.id} is in {price.currency}, the invoice in {invoice.currency}",
                code="currency_mismatch",
            )
        unit_amount = price.unit_amount
    assert unit_amount is not None
    line = Line(
        source="one_off",
        description=data.description,
        amount=unit_amount * data.quantity,
        quantity=data.quantity,
        unit_amount=unit_amount,
        price_id=data.price_id,
    )
    account = await uow.session.get_one(BillingAccount, invoice.account_id)
    await _append(uow, invoice, await discount_lines(uow, account, invoice.subscription_id, [line]))
    return invoice_dto(invoice, await invoice_lines(uow, invoice.id))
