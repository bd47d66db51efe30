"""Invoice and credit note documents: what they say is read here, in the caller's unit of work
(three or four queries, none per line); rendering it (document_html.py, document_pdf.py) is CPU
work that needs no database, so routes/documents.py does it after the transaction has ended."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from modules.billing.models import CreditNote, Invoice
from modules.billing.services.accounts import account_dto, account_row
from modules.billing.services.credit_notes import get_credit_note
from modules.billing.services.document_model import (
    CreditNoteSummary,
    Document,
    Party,
    credit_note_document,
    invoice_document,
    issuer_party,
)
from modules.billing.services.invoices import get_invoice
from platform_core.core.config import Settings
from platform_core.messaging.uow import UnitOfWork


def issuer(settings: Settings) -> Party:
    return issuer_party(
        settings.billing_issuer_name,
        settings.billing_issuer_address,
        settings.billing_issuer_country,
        settings.billing_issuer_tax_id,
    )


async def load_invoice_document(uow: UnitOfWork, org_id: uuid.UUID, invoice_id: uuid.UUID) -> Document:
    """The organization's invoice as its document shows it (404 `invoice_not_found` otherwise)."""
    invoice = await get_invoice(uow, org_id, invoice_id)
    account = account_dto(await account_row(uow, org_id, invoice.account_id))
    notes = await uow.session.execute(
        select(CreditNote.number, CreditNote.created_at, CreditNote.status, CreditNote.amount)
        .where(CreditNote.invoice_id == invoice.id)
        .order_by(CreditNote.id)
    )
    summaries = [CreditNoteSummary(*row) for row in notes.all()]
    return invoice_document(invoice, account, issuer(uow.settings), summaries)


async def load_credit_note_document(
    uow: UnitOfWork, org_id: uuid.UUID, credit_note_id: uuid.UUID
) -> Document:
    """The organization's credit note as its document shows it (404 `credit_note_not_found`)."""
    note = await get_credit_note(uow, org_id, credit_note_id)
    invoice_number = await uow.session.scalar(select(Invoice.number).where(Invoice.id == note.invoice_id))
    account = account_dto(await account_row(uow, org_id, note.account_id))
    return credit_note_document(note, invoice_number or "", account, issuer(uow.settings))
