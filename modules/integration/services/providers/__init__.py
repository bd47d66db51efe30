"""Payment providers: what integration's provider relay calls (`services/provider_calls.py`).

Billing asks for an action with an event; the relay hands the stored request to the account's
provider with an idempotency key derived from the outbox row, outside any transaction, and
turns what came back into an `Outcome`: an `Answer` shaped like the Stripe event a webhook
would have brought (stored as an inbound event, so a webhook and a direct answer take one
path), or `Retry` when the provider could not be reached or failed on its side."""

from __future__ import annotations

from modules.integration.services.providers.base import (
    Answer,
    Outcome,
    PaymentProvider,
    RefundCall,
    Retry,
)
from modules.integration.services.providers.manual import ManualProvider
from modules.integration.services.providers.stripe import StripeProvider
from platform_core.core.config import Settings

CALLING_PROVIDERS = frozenset({"stripe"})  # `manual`: nothing to call, operators record what arrived


def provider_for(name: str, settings: Settings) -> PaymentProvider:
    if name == "stripe":
        return StripeProvider(settings.stripe_api_key, settings.stripe_api_base)
    if name == "manual":
        return ManualProvider()
    raise LookupError(f"no payment provider {name!r}")


__all__ = [
    "CALLING_PROVIDERS",
    "Answer",
    "ManualProvider",
    "Outcome",
    "PaymentProvider",
    "RefundCall",
    "Retry",
    "StripeProvider",
    "provider_for",
]
