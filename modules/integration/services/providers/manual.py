"""The `manual` provider: bank transfers and cheques. Nothing is called; an operator records
what arrived (`POST /billing/invoices/{id}/mark-paid`)."""

from __future__ import annotations

from modules.billing.contracts import CustomerRequest, PaymentIntentRequest, PaymentMethodDetachRequest
from modules.integration.services.providers.base import Outcome, RefundCall


class ManualProvider:
    async def create_customer(self, request: CustomerRequest, key: str) -> Outcome | None:
        return None

    async def create_payment_intent(self, request: PaymentIntentRequest, key: str) -> Outcome | None:
        return None

    async def create_refund(self, request: RefundCall, key: str) -> Outcome | None:
        return None

    async def detach_payment_method(self, request: PaymentMethodDetachRequest, key: str) -> Outcome | None:
        return None

    async def close(self) -> None:
        return None
