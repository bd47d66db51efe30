"""Invoices: issued when a paid period starts, carrying the period's licensed items and every
pending charge of the account (prorations, credits), numbered from a gapless sequence and
immutable from then on. A negative balance is never paid out: it is carried forward as a
credit to the next invoice."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import msgspec
from sqlalchemy import select, text

from modules.billing.contracts import (
    INVOICE_FINALIZED,
    INVOICE_PAID,
    INVOICE_VOIDED,
    InvoiceDTO,
    InvoiceEventData,
    InvoiceLineDTO,
    PaymentError,
)
from modules.billing.models import (
    BillingAccount,
    Invoice,
    InvoiceLineItem,
    PendingCharge,
    PendingChargeUsageEvent,
)
from modules.billing.services.payment_retries import due_date
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork

ISSUER = "keel"
_TAKE_NUMBER = text(
    """UPDATE billing.invoice_number_sequences SET next_number = next_number + 1
        WHERE issuer = :issuer RETURNING prefix, next_number - 1 AS number"""
)


@dataclass(frozen=True)
class Line:
    source: str
    description: str
    amount: int
    source_id: uuid.UUID | None = None
    quantity: int | None = None
    unit_amount: int | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    discount_amount: int = 0


def invoice_dto(inv: Invoice, lines: list[InvoiceLineItem]) -> InvoiceDTO:
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
            )
            for line in lines
        ],
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
    )
    uow.session.add(charge)
    await uow.session.flush()
    uow.session.add_all(
        PendingChargeUsageEvent(pending_charge_id=charge.id, usage_event_id=usage_id)
        for usage_id in set(usage_event_ids)
    )
    return charge


async def issue_invoice(
    uow: UnitOfWork,
    account: BillingAccount,
    lines: list[Line],
    *,
    subscription_id: uuid.UUID | None = None,
    period: tuple[datetime, datetime] | None = None,
) -> InvoiceDTO:
    """Finalize an invoice of `lines` plus the account's pending charges, in this transaction."""
    pending = list(
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
    lines = lines + [
        Line(
            source="pending_charge",
            source_id=p.id,
            description=p.description,
            amount=p.amount,
            period_start=p.period_start,
            period_end=p.period_end,
        )
        for p in pending
    ]
    subtotal = sum(line.amount for line in lines)
    discount_total = sum(line.discount_amount for line in lines)
    carried = None
    if subtotal - discount_total < 0:  # more credit than charges: the rest waits for the next invoice
        carried = subtotal - discount_total
        lines.append(Line(source="pending_charge", description="Credit carried forward", amount=-carried))
        subtotal -= carried
    total = subtotal - discount_total
    now = utcnow()
    prefix, number = (await uow.session.execute(_TAKE_NUMBER, {"issuer": ISSUER})).one()
    invoice = Invoice(
        org_id=account.org_id,
        account_id=account.id,
        subscription_id=subscription_id,
        number=f"{prefix}{number:06d}",
        status="open" if total > 0 else "paid",
        currency=account.currency,
        period_start=period[0] if period else None,
        period_end=period[1] if period else None,
        subtotal=subtotal,
        discount_total=discount_total,
        total=total,
        amount_due=total,
        due_date=due_date(account.collection_method, now, account.days_until_due),
        collection_method=account.collection_method,
        finalized_at=now,
        paid_at=now if total == 0 else None,
    )
    uow.session.add(invoice)
    await uow.session.flush()
    rows = [
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
        )
        for line in lines
    ]
    uow.session.add_all(rows)
    for charge in pending:
        charge.invoice_id = invoice.id
    await uow.session.flush()
    if carried is not None:
        await add_pending_charge(
            uow, account, kind="credit", description="Credit carried forward", amount=carried
        )
    await uow.session.refresh(invoice)
    await announce_invoice(uow, INVOICE_FINALIZED, invoice)
    if invoice.status == "paid":
        await announce_invoice(uow, INVOICE_PAID, invoice)
    return invoice_dto(invoice, rows)


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


async def _lines(uow: UnitOfWork, invoice_id: uuid.UUID) -> list[InvoiceLineItem]:
    rows = await uow.session.scalars(
        select(InvoiceLineItem).where(InvoiceLineItem.invoice_id == invoice_id).order_by(InvoiceLineItem.id)
    )
    return list(rows)


async def list_invoices(uow: UnitOfWork, org_id: uuid.UUID) -> list[InvoiceDTO]:
    invoices = await uow.session.scalars(select(Invoice).where(Invoice.org_id == org_id).order_by(Invoice.id))
    return [invoice_dto(inv, await _lines(uow, inv.id)) for inv in invoices]


async def get_invoice(uow: UnitOfWork, org_id: uuid.UUID, invoice_id: uuid.UUID) -> InvoiceDTO:
    inv = await uow.session.scalar(select(Invoice).where(Invoice.id == invoice_id, Invoice.org_id == org_id))
    if inv is None:
        raise NotFound(f"invoice {invoice_id} does not exist", code="invoice_not_found")
    return invoice_dto(inv, await _lines(uow, inv.id))


async def _locked(uow: UnitOfWork, invoice_id: uuid.UUID) -> Invoice:
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
    inv = await _locked(uow, invoice_id)
    if inv.status != "paid":
        if inv.status != "open":
            raise Conflict(f"invoice {inv.number} is {inv.status}", code=f"invoice_{inv.status}")
        inv.status, inv.amount_paid, inv.paid_at = "paid", inv.amount_due, utcnow()
        await uow.session.flush()
        await announce_invoice(uow, INVOICE_PAID, inv)
    return invoice_dto(inv, await _lines(uow, inv.id))


async def void(uow: UnitOfWork, invoice_id: uuid.UUID) -> InvoiceDTO:
    """An open invoice issued in error: it keeps its number (the sequence stays gapless) and
    is never collected."""
    inv = await _locked(uow, invoice_id)
    if inv.status != "void":
        if inv.status != "open":
            raise Conflict(f"invoice {inv.number} is {inv.status}", code=f"invoice_{inv.status}")
        inv.status, inv.voided_at = "void", utcnow()
        await uow.session.flush()
        await announce_invoice(uow, INVOICE_VOIDED, inv)
    return invoice_dto(inv, await _lines(uow, inv.id))
