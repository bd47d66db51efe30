"""An organization's one-time purchases."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from modules.billing import permissions as perm
from modules.billing.contracts import PurchaseDTO, PurchaseOrderDTO
from modules.billing.schemas import CreatePurchase
from modules.billing.services import purchases
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class PurchaseController(Controller):
    path = "/billing/orgs/{org_id:uuid}/purchases"
    tags = ["billing"]

    @post(
        "/",
        guards=[requires(perm.PURCHASES_WRITE)],
        status_code=201,
        summary="Buy one-time prices (invoiced now or with the next invoice; provisions their sets)",
        description="Active `one_time` prices in the account's currency, at the operators' amounts"
        " (409 price_inactive, 422 price_not_one_time / currency_mismatch / pool_required)."
        " `invoice_now` (default) finalizes an invoice of the purchases at once; false adds them"
        " to the account's next invoice. Each purchase provisions its product's entitlement set"
        " into `pool_id`, without end.",
    )
    async def create(
        self, org_id: FromPath[uuid.UUID], data: JSONBody[CreatePurchase], uow: NamedDependency[UnitOfWork]
    ) -> PurchaseOrderDTO:
        return await purchases.purchase(uow, org_id, data)

    @get("/", guards=[requires(perm.PURCHASES_READ)], summary="The organization's purchases")
    async def list_purchases(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[PurchaseDTO]:
        return await purchases.list_purchases(uow, org_id, limit=check_limit(limit), cursor=cursor)

    @get("/{purchase_id:uuid}", guards=[requires(perm.PURCHASES_READ)], summary="Get a purchase")
    async def get_one(
        self, org_id: FromPath[uuid.UUID], purchase_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> PurchaseDTO:
        return await purchases.get_purchase(uow, org_id, purchase_id)
