"""The upcoming invoice of a subscription, previewed without writing anything."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from modules.billing import permissions as perm
from modules.billing.contracts import UpcomingInvoiceDTO
from modules.billing.services import upcoming
from platform_core.core.errors import InvalidRequest
from platform_core.http.auth import requires
from platform_core.messaging.uow import UnitOfWork

_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_QUANTITY = "(?:[1-9][0-9]{0,5}|1000000)"
ITEM_PATTERN = rf"^(?:{_UUID}:(?:{_UUID})?:{_QUANTITY}?|new:{_UUID}:{_QUANTITY}?|{_UUID}:deleted)$"
ProposedItems = Annotated[
    list[str] | None,
    QueryParameter(
        max_items=20,
        schema_extra={
            "oneOf": [
                {"type": "array", "items": {"type": "string", "pattern": ITEM_PATTERN}},
                {"type": "null"},
            ]
        },
        description=(
            "A proposed change, repeated per item: `<item_id>:<price_id>:<quantity>` (either may be"
            " empty: unchanged), `new:<price_id>:<quantity>`, or `<item_id>:deleted`"
        ),
    ),
]


class UpcomingInvoiceController(Controller):
    path = "/billing/orgs/{org_id:uuid}/invoices/upcoming"
    tags = ["billing"]

    @get(
        "/",
        guards=[requires(perm.INVOICES_READ)],
        summary="The subscription's next invoice, and what a proposed change would cost (nothing is written)",
    )
    async def upcoming_invoice(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        subscription_id: Annotated[uuid.UUID, QueryParameter()],
        items: ProposedItems = None,
        proration_behavior: Annotated[
            Literal["create_prorations", "none", "always_invoice"], QueryParameter()
        ] = "create_prorations",
        proration_date: Annotated[datetime | None, QueryParameter()] = None,
    ) -> UpcomingInvoiceDTO:
        if proration_date is not None and proration_date.tzinfo is None:
            raise InvalidRequest(
                "proration_date needs a time zone",
                code="invalid_proration_date",
                errors=[{"field": "proration_date", "source": "query", "message": "no time zone"}],
            )
        return await upcoming.upcoming_invoice(
            uow,
            org_id,
            subscription_id,
            changes=upcoming.parse_items(items or []),
            proration_behavior=proration_behavior,
            proration_date=proration_date,
        )
