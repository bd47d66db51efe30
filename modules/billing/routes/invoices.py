"""Invoices: an organization reads its own; operators record payments and void."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from modules.billing import permissions as perm
from modules.billing.contracts import InvoiceDTO, PaymentDTO
from modules.billing.services import invoices, payments
from platform_core.http.auth import requires
from platform_core.messaging.uow import UnitOfWork


class InvoiceController(Controller):
    path = "/billing"
    tags = ["billing"]

    @get(
        "/orgs/{org_id:uuid}/invoices",
        guards=[requires(perm.INVOICES_READ)],
        summary="The organization's invoices",
    )
    async def list_invoices(
        self, org_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> list[InvoiceDTO]:
        return await invoices.list_invoices(uow, org_id)

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
        self, org_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> list[PaymentDTO]:
        return await payments.list_payments(uow, org_id)

    @get(
        "/payments/unmatched",
        guards=[requires(perm.INVOICES_WRITE)],
        summary="Payments that settled no invoice, for reconciliation (operators)",
    )
    async def unmatched_payments(self, uow: NamedDependency[UnitOfWork]) -> list[PaymentDTO]:
        return await payments.list_unmatched(uow)

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
