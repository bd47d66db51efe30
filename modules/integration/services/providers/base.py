"""The provider interface and what a call can come to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from modules.billing.contracts import CustomerRequest, PaymentIntentRequest, PaymentMethodDetachRequest


@dataclass(frozen=True)
class Answer:
    """The provider answered: `event_type` and `object` are what the matching Stripe event
    carries (`payment_intent.succeeded` with the PaymentIntent, …). `rejected` is set when the
    provider refused the request itself (a 4xx other than a decline): the answer still goes to
    billing (e.g. as a failed payment), and the call is not retried."""

    event_type: str
    object: dict[str, Any]
    rejected: str | None = None


@dataclass(frozen=True)
class Retry:
    """The provider could not be reached or failed on its side (network, 5xx, 429): the relay
    calls again later with the same idempotency key."""

    error: str


Outcome = Answer | Retry


class RefundCall(msgspec.Struct, frozen=True, kw_only=True):
    """What integration reads from `billing.refund.created` (a RefundDTO; other fields ignored)."""

    refund_id: uuid.UUID
    provider: str
    provider_payment_id: str
    amount: int
    currency: str
    reason: str | None = None


class PaymentProvider(Protocol):
    """One adapter per provider. Every method is called outside any transaction, may be called
    again for the same request after a crash or a retry, and must then not act twice: `key` is
    the provider idempotency key (stable for the request). None: nothing was sent."""

    async def create_customer(self, request: CustomerRequest, key: str) -> Outcome | None: ...

    async def create_payment_intent(self, request: PaymentIntentRequest, key: str) -> Outcome | None: ...

    async def create_refund(self, request: RefundCall, key: str) -> Outcome | None: ...

    async def detach_payment_method(
        self, request: PaymentMethodDetachRequest, key: str
    ) -> Outcome | None: ...

    async def close(self) -> None: ...
