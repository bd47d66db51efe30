"""Verifying an inbound webhook before anything of it is stored: Stripe's `Stripe-Signature`
scheme for the `stripe` provider, Standard Webhooks (`webhook-id`, `webhook-timestamp`,
`webhook-signature`) for every other configured provider."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from platform_core.core.config import Settings
from platform_core.core.errors import InvalidRequest, NotFound

TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class VerifiedEvent:
    external_id: str
    type: str
    payload: dict[str, Any]


def provider_secrets(settings: Settings) -> dict[str, str]:
    """`KEEL_INBOUND_WEBHOOK_SECRETS="stripe=whsec_…,acme=whsec_…"` (a secret may end in `=`)."""
    pairs = (item.split("=", 1) for item in settings.inbound_webhook_secrets.split(",") if "=" in item)
    return {name.strip(): secret.strip() for name, secret in pairs if name.strip() and secret.strip()}


def refused(reason: str) -> InvalidRequest:
    return InvalidRequest(f"the webhook's signature is not valid: {reason}", code="invalid_signature")


def verify(provider: str, settings: Settings, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
    secret = provider_secrets(settings).get(provider)
    if secret is None:
        raise NotFound(f"no webhook provider {provider!r} is configured", code="webhook_provider_unknown")
    if provider == "stripe":
        payload = _stripe(secret, body, headers)
        return VerifiedEvent(_text(payload, "id"), _text(payload, "type"), payload)
    payload = _standard(secret, body, headers)
    return VerifiedEvent(headers["webhook-id"], _text(payload, "type"), payload)


def _stripe(secret: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    parts = [item.split("=", 1) for item in headers.get("stripe-signature", "").split(",") if "=" in item]
    timestamps = [value for key, value in parts if key.strip() == "t"]
    signatures = [value.strip() for key, value in parts if key.strip() == "v1"]
    if len(timestamps) != 1 or not timestamps[0].strip().isdigit() or not signatures:
        raise refused("Stripe-Signature needs t= and v1=")
    stamp = int(timestamps[0])
    if abs(time.time() - stamp) > TOLERANCE_SECONDS:
        raise refused("the timestamp is outside the tolerance")
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, signature) for signature in signatures):
        raise refused("no signature matches")
    return _object(body)


def _standard(secret: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    try:
        Webhook(secret).verify(body, dict(headers), json_parse=False)
    except (WebhookVerificationError, ValueError) as exc:
        raise refused(str(exc)) from exc
    return _object(body)


def _object(body: bytes) -> dict[str, Any]:
    try:
        payload = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise InvalidRequest("the webhook body is not JSON", code="invalid_payload") from exc
    if not isinstance(payload, dict):
        raise InvalidRequest("the webhook body must be a JSON object", code="invalid_payload")
    return payload


def _text(payload: dict[str, Any], field: str) -> str:
    value = payload.get(field)
    if not isinstance(value, str) or not 1 <= len(value) <= 255:
        raise InvalidRequest(f"the webhook body needs a string {field!r}", code="invalid_payload")
    return value
