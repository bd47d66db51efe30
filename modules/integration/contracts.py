"""integration's public data: DTOs and versioned events.

Outbound webhooks follow the Standard Webhooks specification (https://www.standardwebhooks.com):
every delivery is a POST of the event as JSON with the headers `webhook-id` (the event id, the
same on every retry: receivers deduplicate on it), `webhook-timestamp` (Unix seconds of the
attempt) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per
valid secret, space-separated)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import msgspec

EndpointStatus = Literal["enabled", "disabled"]
DeliveryStatus = Literal["pending", "delivered", "failed", "dead"]

SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks secret prefix)

# Events
ENDPOINT_CREATED = "integration.webhook_endpoint.created"
ENDPOINT_UPDATED = "integration.webhook_endpoint.updated"
ENDPOINT_DELETED = "integration.webhook_endpoint.deleted"
ENDPOINT_SECRET_ROTATED = "integration.webhook_endpoint.secret_rotated"  # noqa: S105 (an event name)
DELIVERY_RETRIED = "integration.webhook_delivery.retried"


class WebhookEndpointDTO(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    status: EndpointStatus
    previous_secret_expires_at: datetime | None  # a rotated-out secret still signs until then
    created_at: datetime
    updated_at: datetime


class EndpointWithSecretDTO(msgspec.Struct, kw_only=True):
    """Returned when an endpoint is created or its secret rotated: the only time the signing
    secret is shown."""

    endpoint: WebhookEndpointDTO
    secret: str


class WebhookPayload(msgspec.Struct, kw_only=True):
    """The body of every delivery."""

    id: uuid.UUID  # the event id, also the `webhook-id` header
    type: str
    version: int
    occurred_at: datetime
    org_id: uuid.UUID
    subject: dict[str, Any]
    actor: dict[str, Any]
    data: dict[str, Any]


class DeliveryDTO(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    url: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    last_response_status: int | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None  # when the next attempt is due (pending and failed only)
    delivered_at: datetime | None
    created_at: datetime
