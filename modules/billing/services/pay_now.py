"""Paying an open invoice now (after Stripe's `POST /v1/invoices/{id}/pay`): its billing admins,
having fixed their card, need not wait for the retry schedule. The next attempt is asked of the
provider like a scheduled retry (same request key `<invoice>:<attempt>`, so a retry the job
asks at the same moment is the same call, never a second charge)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from modules.billing.contracts import InvoiceDTO
from modules.billing.models import BillingAccount, Invoice
from modules.billing.services.collection import request_payment
from modules.billing.services.invoices import get_invoice
from platform_core.core.errors import Conflict, NotFound
from platform_core.messaging.uow import UnitOfWork


async def pay_now(uow: UnitOfWork, org_id: uuid.UUID, invoice_id: uuid.UUID) -> InvoiceDTO:
    invoice = await uow.session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice_id, Invoice.org_id == org_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if invoice is None:
        raise NotFound(f"invoice {invoice_id} does not exist", code="invoice_not_found")
    if invoice.status != "open":
        raise Conflict(f"invoice {invoice.number} is {invoice.status}", code=f"invoice_{invoice.status}")
    account = await uow.session.get_one(BillingAccount, invoice.account_id)
    if account.provider != "stripe" or invoice.amount_due - invoice.amount_paid <= 0:
        raise Conflict(
            f"invoice {invoice.number} is not charged through a provider: an operator records its payment",
            code="invoice_not_chargeable",
        )
    invoice.next_payment_attempt = None
    await uow.session.flush()
    await request_payment(uow, invoice, account, attempt=invoice.attempt_count + 1)
    return await get_invoice(uow, org_id, invoice_id)
