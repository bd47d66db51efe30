"""HTTP request bodies of integration's routes."""

from __future__ import annotations

from typing import Annotated

import msgspec

from modules.integration.contracts import EndpointStatus

# An event type (`billing.invoice.paid`), a family (`billing.*`, `billing.invoice.*`) or `*`.
EVENT_TYPE_PATTERN = r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$"
EventType = Annotated[str, msgspec.Meta(pattern=EVENT_TYPE_PATTERN, max_length=200)]
EventTypes = Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=100)]
Url = Annotated[str, msgspec.Meta(min_length=8, max_length=2048)]
Description = Annotated[str, msgspec.Meta(max_length=2000)]


class CreateEndpoint(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: Url
    event_types: EventTypes
    description: Description | None = None


class UpdateEndpoint(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: Url | msgspec.UnsetType = msgspec.UNSET
    event_types: EventTypes | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType | None = msgspec.UNSET
    status: EndpointStatus | msgspec.UnsetType = msgspec.UNSET
