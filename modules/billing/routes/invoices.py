"""Invoices: an organization reads its own; operators finalize drafts, add one-off lines to
them, record payments and void."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from modules.billing import permissions as perm
from modules.billing.contracts import InvoiceDTO, InvoiceStatus, PaymentDTO
from modules.billing.schemas import AddInvoiceLine
from modules.billing.services import invoice_drafts, invoice_finalize, invoices, payments
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class InvoiceController(Controller):
    path = "/billing"
    tags = ["billing"]

    @get(
        "/orgs/{org_id:uuid}/invoices",
        guards=[requires(perm.INVOICES_READ)],
        summary="The organization's invoices",
    )
    async def list_invoices(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        status: FromQuery[InvoiceStatus | None] = None,
        subscription_id: FromQuery[uuid.UUID | None] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[InvoiceDTO]:
        return await invoices.list_invoices(
            uow,
            org_id,
            limit=check_limit(limit),
            cursor=cursor,
            status=status,
            subscription_id=subscription_id,
        )

    @get(
        "/orgs/{org_id:uuid}/invoices/{invoice_id:uuid}",
        guards=[requires(perm.INVOICES_READ)],
        summary="An invoice with its lines",
    )
    async def get_invoice(
        self, org_id: FromPath[uuid.UUID], invoice_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> InvoiceDTO:
        return await invoices.get_invoice(uow, org_id, invoice_id)

    @get("/orgs/{org_id:uuid}/payments", guards=[requires(perm.PAYMENTS_READ)], summary="Payments received")
    async def list_payments(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[PaymentDTO]:
        return await payments.list_payments(uow, org_id, limit=check_limit(limit), cursor=cursor)

    @get(
        "/payments/unmatched",
        guards=[requires(perm.INVOICES_WRITE)],
        summary="Payments that settled no invoice, for reconciliation (operators)",
    )
    async def unmatched_payments(
        self, uow: NamedDependency[UnitOfWork], limit: Limit = None, cursor: Cursor = None
    ) -> Page[PaymentDTO]:
        return await payments.list_unmatched(uow, limit=check_limit(limit), cursor=cursor)

    @post(
        "/invoices/{invoice_id:uuid}/mark-paid",
        guards=[requires(perm.INVOICES_WRITE)],
        status_code=200,
        summary="Record an open invoice as paid outside Keel (operators)",
    )
    async def mark_paid(
        self, invoice_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> InvoiceDTO:
        return await invoices.mark_paid(uow, invoice_id)

    @post(
        "/invoices/{invoice_id:uuid}/void",
        guards=[requires(perm.INVOICES_WRITE)],
        status_code=200,
        summary="Void an open invoice issued in error (operators); its number stays used",
    )
    async def void(self, invoice_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]) -> InvoiceDTO:
        return await invoices.void(uow, invoice_id)

    @post(
        "/invoices/{invoice_id:uuid}/finalize",
        guards=[requires(perm.INVOICES_WRITE)],
        status_code=200,
        summary="Finalize a draft now (operators): number, tax, credit; finalizing it again changes nothing",
    )
    async def finalize(self, invoice_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]) -> InvoiceDTO:
        return await invoice_finalize.finalize_invoice(uow, invoice_id)

    @post(
        "/invoices/{invoice_id:uuid}/lines",
        guards=[requires(perm.INVOICES_WRITE)],
        status_code=201,
        summary="Add a one-off line to a draft (operators)",
    )
    async def add_line(
        self,
        invoice_id: FromPath[uuid.UUID],
        data: JSONBody[AddInvoiceLine],
        uow: NamedDependency[UnitOfWork],
    ) -> InvoiceDTO:
        return await invoice_drafts.add_line(uow, invoice_id, data)
