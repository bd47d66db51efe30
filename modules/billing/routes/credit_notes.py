"""Credit notes: operators issue and void them; an organization's billing admins read them."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from modules.billing import permissions as perm
from modules.billing.contracts import CreditNoteDTO
from modules.billing.schemas import CreateCreditNote
from modules.billing.services import credit_notes
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class CreditNoteController(Controller):
    path = "/billing"
    tags = ["billing"]

    @post(
        "/invoices/{invoice_id:uuid}/credit-notes",
        guards=[requires(perm.CREDIT_NOTES_WRITE)],
        status_code=201,
        summary="Issue a credit note against an open or paid invoice (operators)",
        description="At most the invoice total minus what issued notes credited (409"
        " credit_exceeds_invoice). On an open invoice it comes off amount_due (or goes to"
        " credit_amount); on a paid one it is refund_amount (a refund of the invoice's payment)"
        " plus credit_amount (a credit for the next invoice).",
    )
    async def create(
        self,
        invoice_id: FromPath[uuid.UUID],
        data: JSONBody[CreateCreditNote],
        uow: NamedDependency[UnitOfWork],
    ) -> CreditNoteDTO:
        return await credit_notes.create_credit_note(uow, invoice_id, data)

    @post(
        "/credit-notes/{credit_note_id:uuid}/void",
        guards=[requires(perm.CREDIT_NOTES_WRITE)],
        status_code=200,
        summary="Void a credit note, reversing what it did (operators)",
        description="Refused (409) once its refund went out (credit_note_refunded), when the invoice"
        " it reduced is no longer open, or when its credit was already invoiced.",
    )
    async def void(
        self, credit_note_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> CreditNoteDTO:
        return await credit_notes.void_credit_note(uow, credit_note_id)

    @get(
        "/orgs/{org_id:uuid}/credit-notes",
        guards=[requires(perm.CREDIT_NOTES_READ)],
        summary="The organization's credit notes",
    )
    async def list_notes(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[CreditNoteDTO]:
        return await credit_notes.list_credit_notes(uow, org_id, limit=check_limit(limit), cursor=cursor)

    @get(
        "/orgs/{org_id:uuid}/credit-notes/{credit_note_id:uuid}",
        guards=[requires(perm.CREDIT_NOTES_READ)],
        summary="A credit note with its lines",
    )
    async def get_note(
        self,
        org_id: FromPath[uuid.UUID],
        credit_note_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
    ) -> CreditNoteDTO:
        return await credit_notes.get_credit_note(uow, org_id, credit_note_id)
