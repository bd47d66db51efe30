"""Finalizing an invoice: the one place an invoice gets its number, its tax and its credit,
and becomes immutable (a trigger keeps it so). A draft is finalized at once (a subscription's
first invoice, an immediate purchase), by the finalize job once its `auto_finalize_at` passes
(renewals wait `invoice_finalize_delay_seconds`, an hour by default, as Stripe does), or by an
operator. A total below zero is never paid out: the surplus is carried forward as credit."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import inspect, select, text

from modules.billing.contracts import INVOICE_FINALIZED, INVOICE_PAID, InvoiceDTO
from modules.billing.models import BillingAccount, Invoice, InvoiceLineItem
from modules.billing.services import credit_grants, job_batch
from modules.billing.services.invoice_drafts import create_draft
from modules.billing.services.invoice_lines import Line
from modules.billing.services.invoices import (
    announce_invoice,
    invoice_dto,
    invoice_lines,
    locked_invoice,
)
from modules.billing.services.payment_retries import due_date
from modules.billing.services.taxes import line_taxes, tax_invoice
from platform_core.core.clock import utcnow
from platform_core.messaging.uow import UnitOfWork

ISSUER = "keel"
_TAKE_NUMBERS = text(
    """UPDATE billing.invoice_number_sequences SET next_number = next_number + :n
        WHERE issuer = :issuer RETURNING prefix, next_number - :n AS number"""
)
FINALIZE_BATCH = 100


async def issue_invoice(
    uow: UnitOfWork,
    account: BillingAccount,
    lines: list[Line],
    *,
    subscription_id: uuid.UUID | None = None,
    period: tuple[datetime, datetime] | None = None,
    finalize_now: bool = True,
) -> InvoiceDTO:
    """An invoice of `lines` plus the account's pending charges: finalized in this transaction,
    or left a draft that the finalize job finalizes after the configured delay."""
    finalize_at = (
        None if finalize_now else utcnow() + timedelta(seconds=uow.settings.invoice_finalize_delay_seconds)
    )
    invoice, rows = await create_draft(
        uow, account, lines, subscription_id=subscription_id, period=period, finalize_at=finalize_at
    )
    if finalize_now:
        return await finalize(uow, invoice, account, rows)
    return invoice_dto(invoice, rows)


async def finalize(
    uow: UnitOfWork, invoice: Invoice, account: BillingAccount, rows: list[InvoiceLineItem]
) -> InvoiceDTO:
    """Number, tax and credit a locked draft, in this transaction."""
    await _settle(uow, invoice, account, rows)
    return invoice_dto(invoice, rows, await line_taxes(uow, [invoice.id]))


async def _settle(
    uow: UnitOfWork, invoice: Invoice, account: BillingAccount, rows: list[InvoiceLineItem]
) -> None:
    assert invoice.status == "draft"
    invoice.subtotal = sum(row.amount for row in rows)
    invoice.discount_total = sum(row.discount_amount for row in rows)
    invoice.total = invoice.subtotal - invoice.discount_total
    # tax
    await tax_invoice(uow, account, invoice, rows)
    # credit carried forward: more credit than charges; the surplus waits for the next invoice
    if invoice.total < 0:
        carried = invoice.total
        uow.session.add(
            row := InvoiceLineItem(
                invoice_id=invoice.id,
                source="pending_charge",
                description="Credit carried forward",
                amount=-carried,
            )
        )
        rows.append(row)
        invoice.subtotal -= carried
        invoice.total = invoice.subtotal - invoice.discount_total + invoice.exclusive_tax
        await uow.session.flush()
        await credit_grants.grant_credit(
            uow,
            account_id=account.id,
            amount=-carried,
            currency=invoice.currency,
            category="paid",
            description="Credit carried forward",
            source_type="carried_credit",
            source_id=invoice.id,
        )
        if (batch := job_batch.current(uow)) is not None:
            batch.granted.add(account.id)  # a grant the batch did not read
    # credit
    invoice.credit_applied = await credit_grants.apply_to_invoice(uow, account, invoice, rows)
    now = utcnow()
    batch = job_batch.current(uow)
    invoice.number = (
        batch.numbers.pop(0) if batch is not None and batch.numbers else (await _numbers(uow, 1))[0]
    )
    invoice.amount_due = invoice.total - invoice.credit_applied
    invoice.status = "open" if invoice.amount_due > 0 else "paid"
    invoice.collection_method = account.collection_method
    invoice.due_date = due_date(account.collection_method, now, account.days_until_due)
    invoice.finalized_at = now
    invoice.auto_finalize_at = None
    invoice.paid_at = now if invoice.status == "paid" else None
    await uow.session.flush()
    if inspect(invoice).unloaded:  # a draft inserted in this transaction: its server defaults
        await uow.session.refresh(invoice)
    await announce_invoice(uow, INVOICE_FINALIZED, invoice)
    if invoice.status == "paid":
        await announce_invoice(uow, INVOICE_PAID, invoice)


async def _numbers(uow: UnitOfWork, n: int) -> list[str]:
    """The issuer's next `n` invoice numbers, taken under the sequence row's lock until commit:
    gapless, as long as each one is given to an invoice finalized in this transaction."""
    prefix, first = (await uow.session.execute(_TAKE_NUMBERS, {"issuer": ISSUER, "n": n})).one()
    return [f"{prefix}{number:06d}" for number in range(first, first + n)]


async def finalize_invoice(uow: UnitOfWork, invoice_id: uuid.UUID) -> InvoiceDTO:
    """An operator finalizes a draft now. Finalizing a finalized invoice changes nothing."""
    invoice = await locked_invoice(uow, invoice_id)
    if invoice.status != "draft":
        return invoice_dto(invoice, await invoice_lines(uow, invoice.id), await line_taxes(uow, [invoice.id]))
    return await _finalize_locked(uow, invoice)


async def _finalize_locked(uow: UnitOfWork, invoice: Invoice) -> InvoiceDTO:
    account = await uow.session.get_one(BillingAccount, invoice.account_id)
    return await finalize(uow, invoice, account, await invoice_lines(uow, invoice.id))


async def finalize_due(uow: UnitOfWork) -> int:
    """Finalize up to `FINALIZE_BATCH` drafts whose `auto_finalize_at` has passed."""
    due = list(
        await uow.session.scalars(
            select(Invoice)
            .where(Invoice.status == "draft", Invoice.auto_finalize_at <= utcnow())
            .order_by(Invoice.auto_finalize_at, Invoice.id)
            .limit(FINALIZE_BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    if not due:
        return 0
    async with job_batch.finalize_batch(uow, [(inv.id, inv.account_id) for inv in due]) as batch:
        batch.numbers = await _numbers(uow, len(due))  # one per draft, each finalized below
        for invoice in due:
            account = await uow.session.get_one(BillingAccount, invoice.account_id)
            await _settle(uow, invoice, account, batch.lines.get(invoice.id, []))
    return len(due)
