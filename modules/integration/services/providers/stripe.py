"""The `stripe` provider, on the official `stripe` package: a `StripeClient` of its own (the
API base may point at a proxy or a test double; the package's global state is never touched),
async calls through httpx, and no retries inside the SDK: the relay retries, with backoff,
under the same idempotency key.

Errors: a card decline (402 with the PaymentIntent in `error.payment_intent`) is an answer, a
`payment_intent.payment_failed`; no answer, a 5xx, 429, 401/403 (a key an operator can fix) or
409 (the same key in flight) is retried; any other 4xx is a rejection: billing still hears of
it as a failure and the call is not repeated."""

from __future__ import annotations

from typing import Any

import stripe

from modules.billing.contracts import CustomerRequest, PaymentIntentRequest, PaymentMethodDetachRequest
from modules.integration.services.providers.base import Answer, Outcome, RefundCall, Retry

TIMEOUT_SECONDS = 20.0  # two of them fit in the relay's lease (batches are small)
RETRIED_STATUSES = frozenset({401, 403, 409, 429})
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
# the event a PaymentIntent's status stands for, as Stripe would send it
INTENT_EVENTS = {
    "succeeded": "payment_intent.succeeded",
    "processing": "payment_intent.processing",
    "requires_payment_method": "payment_intent.payment_failed",
    "requires_action": "payment_intent.requires_action",
    "canceled": "payment_intent.canceled",
}


def _error_text(error: stripe.StripeError) -> str:
    status = f"HTTP {error.http_status}: " if error.http_status else ""
    return f"{status}{type(error).__name__}: {error.user_message or error}"[:2000]


def _error_object(error: stripe.StripeError) -> dict[str, Any]:
    body = error.json_body if isinstance(error.json_body, dict) else {}
    err = body.get("error") if isinstance(body.get("error"), dict) else {}
    return err or {}


def _transient(error: stripe.StripeError) -> bool:
    if isinstance(error, stripe.APIConnectionError | stripe.APIError | stripe.RateLimitError):
        return True
    status = error.http_status
    return status is None or status >= 500 or status in RETRIED_STATUSES


class StripeProvider:
    def __init__(self, api_key: str, api_base: str) -> None:
        self._http = stripe.HTTPXClient(timeout=TIMEOUT_SECONDS)
        self._client = stripe.StripeClient(
            api_key or "sk_unset",  # an unset key is refused by Stripe (401) and retried
            base_addresses={"api": api_base.rstrip("/")},
            http_client=self._http,
            max_network_retries=0,
        )

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def create_customer(self, request: CustomerRequest, key: str) -> Outcome | None:
        params: Any = {
            "name": request.name,
            "email": request.email,
            "metadata": {"keel_account_id": str(request.account_id)},
        }
        try:
            customer = await self._client.v1.customers.create_async(params, {"idempotency_key": key})
        except stripe.StripeError as error:
            if _transient(error):
                return Retry(_error_text(error))
            return Answer(
                "customer.creation_failed",
                {"object": "customer", "id": None, "metadata": params["metadata"]},
                rejected=_error_text(error),
            )
        return Answer("customer.created", customer.to_dict())

    async def create_payment_intent(self, request: PaymentIntentRequest, key: str) -> Outcome | None:
        metadata = {
            "keel_invoice_id": str(request.invoice_id),
            "keel_account_id": str(request.account_id),
            "keel_attempt": str(request.attempt),
            "keel_request_key": request.request_key,
        }
        params: Any = {
            "amount": request.amount,
            "currency": request.currency.lower(),
            "confirm": True,
            "off_session": True,
            "metadata": metadata,
        }
        if request.provider_customer_id:
            params["customer"] = request.provider_customer_id
        if request.payment_method:
            params["payment_method"] = request.payment_method
        try:
            intent = await self._client.v1.payment_intents.create_async(params, {"idempotency_key": key})
        except stripe.StripeError as error:
            if _transient(error):
                return Retry(_error_text(error))
            err = _error_object(error)
            declined = err.get("payment_intent")
            if isinstance(error, stripe.CardError) and isinstance(declined, dict):
                return Answer("payment_intent.payment_failed", declined)
            failed = {
                "object": "payment_intent",
                "id": None,
                "amount": request.amount,
                "amount_received": 0,
                "currency": request.currency.lower(),
                "status": "requires_payment_method",
                "metadata": metadata,
                "last_payment_error": {
                    "type": err.get("type"),
                    "code": err.get("code") or error.code,
                    "decline_code": err.get("decline_code"),
                    "message": err.get("message") or error.user_message,
                },
            }
            rejected = None if isinstance(error, stripe.CardError) else _error_text(error)
            return Answer("payment_intent.payment_failed", failed, rejected=rejected)
        data = intent.to_dict()
        return Answer(INTENT_EVENTS.get(str(data.get("status")), "payment_intent.updated"), data)

    async def create_refund(self, request: RefundCall, key: str) -> Outcome | None:
        metadata = {"keel_refund_id": str(request.refund_id)}
        params: Any = {
            "payment_intent": request.provider_payment_id,
            "amount": request.amount,
            "metadata": metadata,
        }
        if request.reason in REFUND_REASONS:
            params["reason"] = request.reason
        try:
            refund = await self._client.v1.refunds.create_async(params, {"idempotency_key": key})
        except stripe.StripeError as error:
            if _transient(error):
                return Retry(_error_text(error))
            failed = {
                "object": "refund",
                "id": None,
                "amount": request.amount,
                "currency": request.currency.lower(),
                "payment_intent": request.provider_payment_id,
                "status": "failed",
                "failure_reason": _error_object(error).get("code") or error.code or "rejected",
                "metadata": metadata,
            }
            return Answer("refund.updated", failed, rejected=_error_text(error))
        return Answer("refund.updated", refund.to_dict())

    async def detach_payment_method(self, request: PaymentMethodDetachRequest, key: str) -> Outcome | None:
        try:
            method = await self._client.v1.payment_methods.detach_async(
                request.provider_payment_method_id, options={"idempotency_key": key}
            )
        except stripe.StripeError as error:
            if _transient(error):
                return Retry(_error_text(error))
            # not attached, or unknown to Stripe: either way it can no longer be charged
            gone = {"object": "payment_method", "id": request.provider_payment_method_id, "customer": None}
            return Answer("payment_method.detached", gone, rejected=_error_text(error))
        return Answer("payment_method.detached", method.to_dict())
