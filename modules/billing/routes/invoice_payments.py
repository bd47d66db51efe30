"""Paying an open invoice now, with the account's default payment method."""

from __future__ import annotations

import uuid

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from modules.billing import permissions as perm
from modules.billing.contracts import InvoiceDTO
from modules.billing.services.pay_now import pay_now
from platform_core.http.auth import requires
from platform_core.messaging.uow import UnitOfWork


class InvoicePaymentController(Controller):
    path = "/billing/orgs/{org_id:uuid}/invoices/{invoice_id:uuid}"
    tags = ["billing"]

    @post(
        "/pay",
        guards=[requires(perm.INVOICES_PAY)],
        status_code=202,
        summary="Try to collect an open invoice now, with the default payment method",
        description="The next attempt is asked of the account's provider at once instead of at"
        " `next_payment_attempt`; its outcome arrives as payment_intent.succeeded (the invoice is"
        " paid) or payment_intent.payment_failed (attempt_count, last_payment_error). 409"
        " invoice_not_chargeable for an account paying by bank transfer.",
    )
    async def pay(
        self, org_id: FromPath[uuid.UUID], invoice_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> InvoiceDTO:
        return await pay_now(uow, org_id, invoice_id)
