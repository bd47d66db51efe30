"""HTTP request bodies of integration's routes."""

from __future__ import annotations

from typing import Annotated

import msgspec

from modules.integration.contracts import EndpointStatus

# An event type (`billing.invoice.paid`), a family (`billing.*`, `billing.invoice.*`) or `*`.
EVENT_TYPE_PATTERN = r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$"
EventType = Annotated[str, msgspec.Meta(pattern=EVENT_TYPE_PATTERN, max_length=200)]
EventTypes = Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=100)]
# the shape services.urls.checked_url accepts: http(s), a host (a name or an [IPv6]), no
# credentials, a port 1..65535, no fragment. In production it also refuses http and private
# hosts, which depend on the deployment (the description says so).
# (whitespace spelled out: `\s` means more characters to Python than to ECMA-262)
_IPV6 = (
    r"(H:){7}H|(H:){1,7}:|(H:){1,6}:H|(H:){1,5}(:H){1,2}|(H:){1,4}(:H){1,3}|(H:){1,3}(:H){1,4}"
    r"|(H:){1,2}(:H){1,5}|H:(:H){1,6}|:((:H){1,7}|:)"
).replace("H", "[0-9A-Fa-f]{1,4}")
URL_PATTERN = (
    r"^[hH][tT][tT][pP][sS]?://([^ \t\n\r\f\v/?#@:\[\]]+|\[(" + _IPV6 + r")\])"
    r"(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?"
    r"([/?][^ \t\n\r\f\v#]*)?$"
)
Url = Annotated[
    str,
    msgspec.Meta(
        min_length=8,
        max_length=2048,
        pattern=URL_PATTERN,
        description="An http(s) URL; in production https to a public host only",
    ),
]
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
