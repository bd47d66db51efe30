"""Invoices: reading them, pending charges that wait for the next one, and the payment state
of a finalized one (paid outside Keel, void). Drafts are made in invoice_drafts.py and
finalized — numbered, taxed, credited, immutable from then on — in invoice_finalize.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime

import msgspec
from sqlalchemy import select

from modules.billing.contracts import (
    INVOICE_PAID,
    INVOICE_VOIDED,
    InvoiceDTO,
    InvoiceEventData,
    InvoiceLineDTO,
    PaymentError,
    TaxAmountDTO,
)
from modules.billing.models import (
    BillingAccount,
    Invoice,
    InvoiceLineItem,
    PendingCharge,
    PendingChargeUsageEvent,
)
from modules.billing.services.invoice_lines import Line
from modules.billing.services.taxes import line_taxes, tax_totals
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of

__all__ = ["Line", "add_pending_charge", "announce_invoice", "get_invoice", "invoice_dto", "list_invoices"]


def invoice_dto(
    inv: Invoice, lines: list[InvoiceLineItem], taxes: Mapping[uuid.UUID, TaxAmountDTO] | None = None
) -> InvoiceDTO:
    """`taxes`: its lines' taxes by line id (taxes.line_taxes); none for a draft."""
    taxes = taxes or {}
    return InvoiceDTO(
        id=inv.id,
        org_id=inv.org_id,
        account_id=inv.account_id,
        subscription_id=inv.subscription_id,
        number=inv.number,
        status=inv.status,  # type: ignore[arg-type]
        currency=inv.currency,
        period_start=inv.period_start,
        period_end=inv.period_end,
        subtotal=inv.subtotal,
        discount_total=inv.discount_total,
        credit_applied=inv.credit_applied,
        total=inv.total,
        amount_due=inv.amount_due,
        amount_paid=inv.amount_paid,
        amount_refunded=inv.amount_refunded,
        amount_credited=inv.amount_credited,
        due_date=inv.due_date,
        collection_method=inv.collection_method,  # type: ignore[arg-type]
        attempt_count=inv.attempt_count,
        next_payment_attempt=inv.next_payment_attempt,
        last_payment_error=(
            msgspec.convert(inv.last_payment_error, PaymentError) if inv.last_payment_error else None
        ),
        finalized_at=inv.finalized_at,
        paid_at=inv.paid_at,
        voided_at=inv.voided_at,
        lines=[
            InvoiceLineDTO(
                id=line.id,
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
                tax_amounts=[taxes[line.id]] if line.id in taxes else [],
            )
            for line in lines
        ],
        auto_finalize_at=inv.auto_finalize_at,
        tax=inv.tax,
        exclusive_tax=inv.exclusive_tax,
        reverse_charge=inv.reverse_charge,
        total_tax_amounts=tax_totals(taxes[line.id] for line in lines if line.id in taxes),
    )


async def add_pending_charge(
    uow: UnitOfWork,
    account: BillingAccount,
    *,
    kind: str,
    description: str,
    amount: int,
    subscription_id: uuid.UUID | None = None,
    subscription_item_id: uuid.UUID | None = None,
    period: tuple[datetime | None, datetime | None] | None = None,
    usage_event_ids: Iterable[uuid.UUID] = (),
    price_id: uuid.UUID | None = None,
) -> PendingCharge:
    """A charge (or, negative, a credit) for the account's next invoice; a usage charge names the
    usage events it bills, each of which can be billed only once (`pending_charge_usage_events`)."""
    charge = PendingCharge(
        org_id=account.org_id,
        account_id=account.id,
        subscription_id=subscription_id,
        subscription_item_id=subscription_item_id,
        kind=kind,
        description=description,
        amount=amount,
        currency=account.currency,
        period_start=period[0] if period else None,
        period_end=period[1] if period else None,
        price_id=price_id,
    )
    uow.session.add(charge)
    await uow.session.flush()
    uow.session.add_all(
        PendingChargeUsageEvent(pending_charge_id=charge.id, usage_event_id=usage_id)
        for usage_id in set(usage_event_ids)
    )
    return charge


async def announce_invoice(uow: UnitOfWork, event_type: str, inv: Invoice) -> None:
    """Publish `billing.invoice.<event>` with the invoice's figures (`InvoiceEventData`)."""
    assert inv.number is not None
    await uow.emit(
        event_type,
        subject=Subject(type="invoice", id=str(inv.id), name=inv.number),
        data=InvoiceEventData(
            number=inv.number,
            account_id=inv.account_id,
            currency=inv.currency,
            total=inv.total,
            amount_due=inv.amount_due,
            amount_paid=inv.amount_paid,
        ),
        org_id=inv.org_id,
    )


async def invoice_lines(uow: UnitOfWork, invoice_id: uuid.UUID) -> list[InvoiceLineItem]:
    rows = await uow.session.scalars(
        select(InvoiceLineItem).where(InvoiceLineItem.invoice_id == invoice_id).order_by(InvoiceLineItem.id)
    )
    return list(rows)


async def list_invoices(
    uow: UnitOfWork,
    org_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    status: str | None = None,
    subscription_id: uuid.UUID | None = None,
) -> Page[InvoiceDTO]:
    """A page of the organization's invoices, oldest first, with their lines (two queries)."""
    stmt = select(Invoice).where(Invoice.org_id == org_id)
    if status is not None:
        stmt = stmt.where(Invoice.status == status)
    if subscription_id is not None:
        stmt = stmt.where(Invoice.subscription_id == subscription_id)
    rows = list(await uow.session.scalars(keyset(stmt, [Invoice.id.expression], cursor=cursor, limit=limit)))
    lines = await lines_of(uow, [inv.id for inv in rows[:limit]])
    taxes = await line_taxes(uow, [inv.id for inv in rows[:limit]])
    return page_of(
        rows, limit, lambda inv: [str(inv.id)], lambda inv: invoice_dto(inv, lines.get(inv.id, []), taxes)
    )


async def lines_of(uow: UnitOfWork, invoice_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[InvoiceLineItem]]:
    """The lines of several invoices in one query, each invoice's in order."""
    found: dict[uuid.UUID, list[InvoiceLineItem]] = {}
    if invoice_ids:
        rows = await uow.session.scalars(
            select(InvoiceLineItem)
            .where(InvoiceLineItem.invoice_id.in_(invoice_ids))
            .order_by(InvoiceLineItem.invoice_id, InvoiceLineItem.id)
        )
        for line in rows:
            found.setdefault(line.invoice_id, []).append(line)
    return found


async def get_invoice(uow: UnitOfWork, org_id: uuid.UUID, invoice_id: uuid.UUID) -> InvoiceDTO:
    inv = await uow.session.scalar(select(Invoice).where(Invoice.id == invoice_id, Invoice.org_id == org_id))
    if inv is None:
        raise NotFound(f"invoice {invoice_id} does not exist", code="invoice_not_found")
    return invoice_dto(inv, await invoice_lines(uow, inv.id), await line_taxes(uow, [inv.id]))


async def locked_invoice(uow: UnitOfWork, invoice_id: uuid.UUID) -> Invoice:
    inv = await uow.session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if inv is None:
        raise NotFound(f"invoice {invoice_id} does not exist", code="invoice_not_found")
    return inv


async def mark_paid(uow: UnitOfWork, invoice_id: uuid.UUID) -> InvoiceDTO:
    """Record that an open invoice was paid in full outside Keel (bank transfer, cheque).
    Recording it twice changes nothing."""
    inv = await locked_invoice(uow, invoice_id)
    if inv.status != "paid":
        if inv.status != "open":
            raise Conflict(f"invoice {inv.number or inv.id} is {inv.status}", code=f"invoice_{inv.status}")
        inv.status, inv.amount_paid, inv.paid_at = "paid", inv.amount_due, utcnow()
        await uow.session.flush()
        await announce_invoice(uow, INVOICE_PAID, inv)
    return invoice_dto(inv, await invoice_lines(uow, inv.id), await line_taxes(uow, [inv.id]))


async def void(uow: UnitOfWork, invoice_id: uuid.UUID) -> InvoiceDTO:
    """An open invoice issued in error: it keeps its number (the sequence stays gapless) and
    is never collected."""
    inv = await locked_invoice(uow, invoice_id)
    if inv.status != "void":
        if inv.status != "open":
            raise Conflict(f"invoice {inv.number or inv.id} is {inv.status}", code=f"invoice_{inv.status}")
        inv.status, inv.voided_at = "void", utcnow()
        await uow.session.flush()
        await announce_invoice(uow, INVOICE_VOIDED, inv)
    return invoice_dto(inv, await invoice_lines(uow, inv.id), await line_taxes(uow, [inv.id]))
