"""Credit notes: corrections of a finalized (open or paid) invoice, after Stripe's CreditNote.

A note credits lines of the invoice (a quantity or an amount of each) or one amount; its total
is at most the invoice's total minus what issued notes already credited (checked under the
invoice's lock). The amount goes out in up to three ways, stated on the note:
- `pre_payment_amount`: off an open invoice's `amount_due` (reaching 0 settles the invoice);
- `refund_amount`: a refund of the invoice's payment (services/refunds, same transaction);
- `credit_amount`: a credit grant of the account (source `credit_note`, services/credit_grants),
  spent by its next invoices.
Notes are numbered from their own gapless sequence and immutable once issued (trigger).

Tax (billing_0028_tax_rates): a note is tax-inclusive. A line can be credited up to what it
charged: amount - discount + its exclusive tax (an inclusive tax is inside its amount). The
note states the tax it gives back (`tax_amount`, per line and in all): the line's tax in
proportion, or the invoice's for a note of one amount, rounded half-to-even cumulatively
(services/tax_math.credit_tax_share), so notes that credit everything give back all the tax.

Voiding reverses what the note did where that is still possible: an open invoice's amount due
goes back up, its credit grant is voided. It is refused (409) when a refund went out (money
that left is not taken back: refund again or not at all), when the invoice it reduced is no
longer open, or when an invoice used any of its credit (`credit_note_credit_used`: the note
stands; an operator may credit the difference with a new document)."""

from __future__ import annotations

import uuid
from typing import get_args

from sqlalchemy import func, select, text

from modules.billing.contracts import (
    CREDIT_NOTE_CREATED,
    CREDIT_NOTE_VOIDED,
    INVOICE_PAID,
    CreditNoteDTO,
    CreditNoteLineDTO,
    RefundReason,
)
from modules.billing.models import (
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLineItem,
    Payment,
    Refund,
)
from modules.billing.schemas import CreateCreditNote
from modules.billing.services import refunds
from modules.billing.services.credit_grants import grant_credit, void_source_grant
from modules.billing.services.invoices import announce_invoice
from modules.billing.services.tax_math import credit_tax_share
from modules.billing.services.taxes import line_taxes
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of

ISSUER = "keel"
_TAKE_NUMBER = text(
    """UPDATE billing.credit_note_number_sequences SET next_number = next_number + 1
        WHERE issuer = :issuer RETURNING prefix, next_number - 1 AS number"""
)
_REFUND_REASONS: tuple[str, ...] = get_args(RefundReason)


def credit_note_dto(
    note: CreditNote, lines: list[CreditNoteLine], refund_id: uuid.UUID | None
) -> CreditNoteDTO:
    return CreditNoteDTO(
        id=note.id,
        number=note.number,
        org_id=note.org_id,
        account_id=note.account_id,
        invoice_id=note.invoice_id,
        invoice_paid=note.invoice_paid,
        status=note.status,  # type: ignore[arg-type]
        currency=note.currency,
        reason=note.reason,  # type: ignore[arg-type]
        memo=note.memo,
        amount=note.amount,
        pre_payment_amount=note.pre_payment_amount,
        refund_amount=note.refund_amount,
        credit_amount=note.credit_amount,
        refund_id=refund_id,
        lines=[
            CreditNoteLineDTO(
                id=line.id,
                invoice_line_id=line.invoice_line_id,
                description=line.description,
                quantity=line.quantity,
                amount=line.amount,
                tax_amount=line.tax_amount,
            )
            for line in lines
        ],
        created_at=note.created_at,
        voided_at=note.voided_at,
        tax_amount=note.tax_amount,
    )


async def _locked_invoice(uow: UnitOfWork, invoice_id: uuid.UUID) -> Invoice:
    invoice = await uow.session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if invoice is None:
        raise NotFound(f"invoice {invoice_id} does not exist", code="invoice_not_found")
    return invoice


async def _credited_per_line(uow: UnitOfWork, invoice_id: uuid.UUID) -> dict[uuid.UUID, int]:
    rows = await uow.session.execute(
        select(CreditNoteLine.invoice_line_id, func.sum(CreditNoteLine.amount))
        .join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
        .where(
            CreditNote.invoice_id == invoice_id,
            CreditNote.status == "issued",
            CreditNoteLine.invoice_line_id.is_not(None),
        )
        .group_by(CreditNoteLine.invoice_line_id)
    )
    return {line_id: int(total) for line_id, total in rows if line_id is not None}


async def _lines(uow: UnitOfWork, invoice: Invoice, data: CreateCreditNote) -> list[CreditNoteLine]:
    if (data.lines is None) == (data.amount is None):
        raise Unprocessable("a credit note has either lines or an amount", code="credit_note_shape")
    if data.amount is not None:
        share = credit_tax_share(invoice.amount_credited, data.amount, invoice.total, invoice.tax)
        return [
            CreditNoteLine(description=f"Credit on {invoice.number}", amount=data.amount, tax_amount=share)
        ]
    assert data.lines is not None
    invoice_lines = {
        line.id: line
        for line in await uow.session.scalars(
            select(InvoiceLineItem).where(InvoiceLineItem.invoice_id == invoice.id)
        )
    }
    credited = await _credited_per_line(uow, invoice.id)
    taxes = await line_taxes(uow, [invoice.id])
    result: list[CreditNoteLine] = []
    seen: set[uuid.UUID] = set()
    for wanted in data.lines:
        line = invoice_lines.get(wanted.invoice_line_id)
        if line is None:
            raise Unprocessable(
                f"invoice {invoice.number} has no line {wanted.invoice_line_id}",
                code="invoice_line_not_found",
            )
        if line.id in seen:
            raise Unprocessable(f"line {line.id} is named twice", code="invoice_line_repeated")
        seen.add(line.id)
        line_tax = taxes.get(line.id)
        tax_amount = line_tax.amount if line_tax else 0
        net = line.amount - line.discount_amount + (tax_amount if line_tax and not line_tax.inclusive else 0)
        left = net - credited.get(line.id, 0)
        if wanted.quantity is not None and (line.quantity is None or wanted.quantity > line.quantity):
            raise Unprocessable(
                f"line {line.id} has quantity {line.quantity}; {wanted.quantity} cannot be credited",
                code="credit_quantity_exceeds_line",
            )
        if wanted.amount is not None:
            amount = wanted.amount
        elif wanted.quantity is not None and line.quantity:
            amount = net * wanted.quantity // line.quantity
        else:
            amount = left
        if amount <= 0 or amount > left:
            raise Conflict(
                f"line {line.id} can be credited at most {max(left, 0)} {invoice.currency} more",
                code="credit_exceeds_line",
            )
        result.append(
            CreditNoteLine(
                invoice_line_id=line.id,
                description=line.description,
                quantity=wanted.quantity,
                amount=amount,
                tax_amount=credit_tax_share(credited.get(line.id, 0), amount, net, tax_amount),
            )
        )
    return result


def _split(invoice: Invoice, total: int, data: CreateCreditNote) -> tuple[int, int, int]:
    """(pre_payment, refund, credit) of a note worth `total`."""
    refund = data.refund_amount or 0
    if invoice.status == "open":
        if refund:
            raise Unprocessable(
                f"invoice {invoice.number} is not paid: nothing to refund", code="credit_note_refund_unpaid"
            )
        credit = data.credit_amount or 0
        if credit > total:
            raise Unprocessable("credit_amount exceeds the note's total", code="credit_note_split")
        return total - credit, 0, credit
    credit = data.credit_amount if data.credit_amount is not None else total - refund
    if refund + credit != total:
        raise Unprocessable(
            f"on a paid invoice refund_amount + credit_amount must equal the note's total {total}",
            code="credit_note_split",
        )
    return 0, refund, credit


async def _payment_to_refund(uow: UnitOfWork, invoice: Invoice) -> uuid.UUID:
    payment_id = await uow.session.scalar(
        select(Payment.id)
        .where(Payment.invoice_id == invoice.id, Payment.status == "succeeded")
        .order_by(Payment.received_at.desc())
        .limit(1)
    )
    if payment_id is None:
        raise Conflict(
            f"invoice {invoice.number} was paid outside any recorded payment: use credit_amount",
            code="invoice_has_no_payment",
        )
    return payment_id


async def create_credit_note(uow: UnitOfWork, invoice_id: uuid.UUID, data: CreateCreditNote) -> CreditNoteDTO:
    invoice = await _locked_invoice(uow, invoice_id)
    if invoice.status not in ("open", "paid"):
        raise Conflict(
            f"invoice {invoice.number or invoice.id} is {invoice.status}: only open or paid ones get credit",
            code=f"invoice_{invoice.status}",
        )
    lines = await _lines(uow, invoice, data)
    total = sum(line.amount for line in lines)
    room = invoice.total - invoice.amount_credited
    if total > room:
        raise Conflict(
            f"{total} exceeds the {room} {invoice.currency} of invoice {invoice.number} not yet credited",
            code="credit_exceeds_invoice",
        )
    pre_payment, refund_amount, credit = _split(invoice, total, data)
    if pre_payment > invoice.amount_due:
        raise Conflict(
            f"{pre_payment} exceeds the {invoice.amount_due} due on invoice {invoice.number}",
            code="credit_exceeds_amount_due",
        )
    prefix, number = (await uow.session.execute(_TAKE_NUMBER, {"issuer": ISSUER})).one()
    note = CreditNote(
        number=f"{prefix}{number:06d}",
        org_id=invoice.org_id,
        account_id=invoice.account_id,
        invoice_id=invoice.id,
        invoice_paid=invoice.status == "paid",
        currency=invoice.currency,
        reason=data.reason,
        memo=data.memo,
        amount=total,
        tax_amount=sum(line.tax_amount for line in lines),
        pre_payment_amount=pre_payment,
        refund_amount=refund_amount,
        credit_amount=credit,
        created_by=uow.actor.id,
    )
    uow.session.add(note)
    await uow.session.flush()
    if credit:
        await grant_credit(
            uow,
            account_id=invoice.account_id,
            amount=credit,
            currency=invoice.currency,
            category="paid",
            description=f"Credit note {note.number} on {invoice.number}",
            source_type="credit_note",
            source_id=note.id,
        )
    for line in lines:
        line.credit_note_id = note.id
    uow.session.add_all(lines)
    invoice.amount_credited += total
    settled = False
    if pre_payment:
        invoice.amount_due -= pre_payment
        if invoice.amount_due == 0:  # nothing left to pay: settled by the note (as Stripe does)
            invoice.status, invoice.paid_at, settled = "paid", utcnow(), True
    await uow.session.flush()
    refund_id = None
    if refund_amount:
        reason = data.reason if data.reason in _REFUND_REASONS else "requested_by_customer"
        refund = await refunds.create_refund(
            uow,
            None,
            await _payment_to_refund(uow, invoice),
            amount=refund_amount,
            reason=reason,
            credit_note_id=note.id,
        )
        refund_id = refund.id
    await uow.session.refresh(note)
    dto = credit_note_dto(note, lines, refund_id)
    await _announce(uow, CREDIT_NOTE_CREATED, note, dto)
    if settled:
        await announce_invoice(uow, INVOICE_PAID, invoice)
    return dto


async def _announce(uow: UnitOfWork, event_type: str, note: CreditNote, dto: CreditNoteDTO) -> None:
    await uow.emit(
        event_type,
        subject=Subject(type="credit_note", id=str(note.id), name=note.number),
        data=dto,
        org_id=note.org_id,
    )


async def void_credit_note(uow: UnitOfWork, credit_note_id: uuid.UUID) -> CreditNoteDTO:
    head = await uow.session.get(CreditNote, credit_note_id)
    if head is None:
        raise NotFound(f"credit note {credit_note_id} does not exist", code="credit_note_not_found")
    invoice = await _locked_invoice(uow, head.invoice_id)
    note = await uow.session.scalar(
        select(CreditNote)
        .where(CreditNote.id == credit_note_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert note is not None
    if note.status == "void":
        return await _dto(uow, note)
    if note.refund_amount:
        raise Conflict(
            f"credit note {note.number} refunded {note.refund_amount} {note.currency}: money that left"
            " is not taken back, so the note stands",
            code="credit_note_refunded",
        )
    if note.pre_payment_amount and invoice.status != "open":
        raise Conflict(
            f"invoice {invoice.number} is {invoice.status}: the amount due it reduced cannot be restored",
            code="credit_note_invoice_settled",
        )
    if note.pending_charge_id is not None:  # a credit from before credit grants, invoiced since
        raise Conflict(
            f"the credit of credit note {note.number} was already invoiced", code="credit_note_credit_used"
        )
    await void_source_grant(uow, "credit_note", note.id, used_code="credit_note_credit_used")
    invoice.amount_due += note.pre_payment_amount
    invoice.amount_credited -= note.amount
    note.status, note.voided_at = "void", utcnow()
    await uow.session.flush()
    dto = await _dto(uow, note)
    await _announce(uow, CREDIT_NOTE_VOIDED, note, dto)
    return dto


async def _dto(uow: UnitOfWork, note: CreditNote) -> CreditNoteDTO:
    lines = list(
        await uow.session.scalars(
            select(CreditNoteLine).where(CreditNoteLine.credit_note_id == note.id).order_by(CreditNoteLine.id)
        )
    )
    refund_id = await uow.session.scalar(select(Refund.id).where(Refund.credit_note_id == note.id))
    return credit_note_dto(note, lines, refund_id)


async def list_credit_notes(
    uow: UnitOfWork, org_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[CreditNoteDTO]:
    """A page of the organization's credit notes with their lines and refunds (three queries)."""
    stmt = keyset(
        select(CreditNote).where(CreditNote.org_id == org_id),
        [CreditNote.id.expression],
        cursor=cursor,
        limit=limit,
    )
    notes = list(await uow.session.scalars(stmt))
    ids = [note.id for note in notes[:limit]]
    lines: dict[uuid.UUID, list[CreditNoteLine]] = {}
    for line in await uow.session.scalars(
        select(CreditNoteLine).where(CreditNoteLine.credit_note_id.in_(ids)).order_by(CreditNoteLine.id)
    ):
        lines.setdefault(line.credit_note_id, []).append(line)
    refunds = dict(
        (
            await uow.session.execute(
                select(Refund.credit_note_id, Refund.id).where(Refund.credit_note_id.in_(ids))
            )
        ).all()
    )
    return page_of(
        notes,
        limit,
        lambda n: [str(n.id)],
        lambda n: credit_note_dto(n, lines.get(n.id, []), refunds.get(n.id)),
    )


async def get_credit_note(uow: UnitOfWork, org_id: uuid.UUID, credit_note_id: uuid.UUID) -> CreditNoteDTO:
    note = await uow.session.scalar(
        select(CreditNote).where(CreditNote.id == credit_note_id, CreditNote.org_id == org_id)
    )
    if note is None:
        raise NotFound(f"credit note {credit_note_id} does not exist", code="credit_note_not_found")
    return await _dto(uow, note)
