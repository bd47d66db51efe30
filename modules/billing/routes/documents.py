"""Invoice and credit note documents, as PDF and as HTML, for whoever may read the invoice or the
credit note itself (billing.invoices:read, billing.credit_notes:read).

What a document says is read in the request's unit of work, whose transaction then ends (its
connection goes back to the pool): rendering, CPU work of up to a few seconds for an invoice of a
thousand lines, runs afterwards in a worker thread, holding no connection and leaving the event
loop free."""

from __future__ import annotations

import asyncio
import uuid

from litestar import Controller, Response, get
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromPath

from modules.billing import permissions as perm
from modules.billing.services.document_html import CONTENT_SECURITY_POLICY, render_html
from modules.billing.services.document_model import Document
from modules.billing.services.document_pdf import render_pdf
from modules.billing.services.documents import load_credit_note_document, load_invoice_document
from platform_core.http.auth import requires
from platform_core.messaging.uow import UnitOfWork

PDF = "application/pdf"
HTML = "text/html"  # sent with `; charset=utf-8`
_PDF_HEADERS = [
    ResponseHeader(
        name="Content-Disposition",
        value='inline; filename="KEEL-000042.pdf"',  # documents the header's type; set per response
        documentation_only=True,
        description='`inline; filename="<number>.pdf"` (a draft: `draft-<id>.pdf`)',
    )
]
_HTML_HEADERS = [
    ResponseHeader(
        name="Content-Security-Policy",
        value=CONTENT_SECURITY_POLICY,
        description="Nothing but the page's inline styles: no script runs, nothing is fetched",
    ),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
]


async def _pdf(doc: Document) -> Response[bytes]:
    body = await asyncio.to_thread(render_pdf, doc)
    return Response(
        body, media_type=PDF, headers={"Content-Disposition": f'inline; filename="{doc.filename}"'}
    )


async def _html(doc: Document) -> Response[str]:
    return Response(await asyncio.to_thread(render_html, doc), media_type=HTML)


class DocumentController(Controller):
    path = "/billing"
    tags = ["billing"]

    @get(
        "/orgs/{org_id:uuid}/invoices/{invoice_id:uuid}/pdf",
        guards=[requires(perm.INVOICES_READ)],
        media_type=PDF,
        response_headers=_PDF_HEADERS,
        response_description="The invoice as a PDF document",
        summary="An invoice as PDF",
        description="Issuer, customer, number (a draft says DRAFT and has none), dates, lines,"
        " discounts, tax per rate, credit, totals and its credit notes; long invoices run over pages.",
    )
    async def invoice_pdf(
        self, org_id: FromPath[uuid.UUID], invoice_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> Response[bytes]:
        doc = await load_invoice_document(uow, org_id, invoice_id)
        await uow.commit()  # nothing was written: the connection is not held while rendering
        return await _pdf(doc)

    @get(
        "/orgs/{org_id:uuid}/invoices/{invoice_id:uuid}/html",
        guards=[requires(perm.INVOICES_READ)],
        media_type=HTML,
        response_headers=_HTML_HEADERS,
        response_description="The invoice as a self-contained HTML page",
        summary="An invoice as HTML",
    )
    async def invoice_html(
        self, org_id: FromPath[uuid.UUID], invoice_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> Response[str]:
        doc = await load_invoice_document(uow, org_id, invoice_id)
        await uow.commit()
        return await _html(doc)

    @get(
        "/orgs/{org_id:uuid}/credit-notes/{credit_note_id:uuid}/pdf",
        guards=[requires(perm.CREDIT_NOTES_READ)],
        media_type=PDF,
        response_headers=_PDF_HEADERS,
        response_description="The credit note as a PDF document",
        summary="A credit note as PDF",
    )
    async def credit_note_pdf(
        self,
        org_id: FromPath[uuid.UUID],
        credit_note_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
    ) -> Response[bytes]:
        doc = await load_credit_note_document(uow, org_id, credit_note_id)
        await uow.commit()
        return await _pdf(doc)

    @get(
        "/orgs/{org_id:uuid}/credit-notes/{credit_note_id:uuid}/html",
        guards=[requires(perm.CREDIT_NOTES_READ)],
        media_type=HTML,
        response_headers=_HTML_HEADERS,
        response_description="The credit note as a self-contained HTML page",
        summary="A credit note as HTML",
    )
    async def credit_note_html(
        self,
        org_id: FromPath[uuid.UUID],
        credit_note_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
    ) -> Response[str]:
        doc = await load_credit_note_document(uow, org_id, credit_note_id)
        await uow.commit()
        return await _html(doc)
