"""Overage no price could price: operators list it, then price or waive each."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from modules.billing import permissions as perm
from modules.billing.contracts import UnpricedUsageDTO, UnpricedUsageStatus
from modules.billing.schemas import PriceUnpricedUsage, WaiveUnpricedUsage
from modules.billing.services import unpriced_usage
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class UnpricedUsageController(Controller):
    path = "/billing/unpriced-usage"
    tags = ["billing"]

    @get(
        "",
        guards=[requires(perm.UNPRICED_USAGE_READ)],
        summary="Overage no price could price, across organizations (operators)",
        description="Open items (default) wait for an operator; `status` lists priced or waived ones.",
    )
    async def list_unpriced(
        self,
        uow: NamedDependency[UnitOfWork],
        status: FromQuery[UnpricedUsageStatus | None] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[UnpricedUsageDTO]:
        return await unpriced_usage.list_unpriced(uow, status, limit=check_limit(limit), cursor=cursor)

    @post(
        "/{unpriced_id:uuid}/price",
        guards=[requires(perm.UNPRICED_USAGE_WRITE)],
        status_code=200,
        summary="Price unpriced overage with a per-unit price of the account's currency (operators)",
        description="It becomes a usage pending charge for the account's next invoice (409 once"
        " priced or waived).",
    )
    async def price(
        self,
        unpriced_id: FromPath[uuid.UUID],
        data: JSONBody[PriceUnpricedUsage],
        uow: NamedDependency[UnitOfWork],
    ) -> UnpricedUsageDTO:
        return await unpriced_usage.price_unpriced(uow, unpriced_id, data.price_id)

    @post(
        "/{unpriced_id:uuid}/waive",
        guards=[requires(perm.UNPRICED_USAGE_WRITE)],
        status_code=200,
        summary="Waive unpriced overage, with a reason (operators)",
    )
    async def waive(
        self,
        unpriced_id: FromPath[uuid.UUID],
        data: JSONBody[WaiveUnpricedUsage],
        uow: NamedDependency[UnitOfWork],
    ) -> UnpricedUsageDTO:
        return await unpriced_usage.waive_unpriced(uow, unpriced_id, data.reason)
