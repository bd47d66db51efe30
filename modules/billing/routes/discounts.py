"""Discounts on an organization's account and subscriptions: operators apply any coupon, the
organization redeems promotion codes; both list them and take them off."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from modules.billing import permissions as perm
from modules.billing.contracts import DiscountDTO
from modules.billing.schemas import ApplyCoupon, RedeemPromotionCode
from modules.billing.services import discount_applications as discounts
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit

REFUSALS = (
    " 404 `billing_account_not_found`, `subscription_not_found`; 409 `billing_account_closed`,"
    " `subscription_not_live`, `discount_exists` (one in force there: remove it first)"
)


class DiscountController(Controller):
    path = "/billing/orgs/{org_id:uuid}/discounts"
    tags = ["billing"]

    @post(
        "/",
        guards=[requires(perm.DISCOUNTS_APPLY, platform_scope=True)],
        status_code=201,
        summary="Put a coupon on the account or one of its subscriptions (operators)",
        description="Without `subscription_id` it discounts every invoice of the account; with it,"
        " that subscription's invoices (overriding the account's). Counts a redemption of the"
        " coupon. Refusals: 403 for anyone but operators (organizations redeem promotion codes);"
        " 404 `coupon_not_found`; 409 `promotion_code_inactive`, `promotion_code_expired`,"
        " `promotion_code_exhausted` (the coupon's own state); 422 `currency_mismatch`;" + REFUSALS,
    )
    async def apply_coupon(
        self, org_id: FromPath[uuid.UUID], data: JSONBody[ApplyCoupon], uow: NamedDependency[UnitOfWork]
    ) -> DiscountDTO:
        return await discounts.apply_coupon(uow, org_id, data)

    @post(
        "/redeem",
        guards=[requires(perm.DISCOUNTS_REDEEM)],
        status_code=201,
        summary="Redeem a promotion code on the account or one of its subscriptions",
        description="Refusals: 404 `promotion_code_not_found`; 409 `promotion_code_inactive`,"
        " `promotion_code_expired`, `promotion_code_exhausted`; 422 `currency_mismatch`,"
        " `promotion_code_first_time_only` (the account has an open or paid invoice),"
        " `promotion_code_minimum_amount` (the recurring amount per period of the subscription, or"
        " of the account's live subscriptions, is below the code's minimum);" + REFUSALS,
    )
    async def redeem_code(
        self,
        org_id: FromPath[uuid.UUID],
        data: JSONBody[RedeemPromotionCode],
        uow: NamedDependency[UnitOfWork],
    ) -> DiscountDTO:
        return await discounts.redeem_code(uow, org_id, data.code, data.subscription_id)

    @get(
        "/",
        guards=[requires(perm.DISCOUNTS_READ)],
        summary="The discounts applied to the account and its subscriptions, current and ended",
    )
    async def list_discounts(
        self,
        org_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        subscription_id: FromQuery[uuid.UUID | None] = None,
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[DiscountDTO]:
        return await discounts.list_discounts(
            uow, org_id, subscription_id=subscription_id, limit=check_limit(limit), cursor=cursor
        )

    @delete(
        "/{discount_id:uuid}",
        guards=[requires(perm.DISCOUNTS_REDEEM)],
        status_code=200,
        summary="Take a discount off: operators any, the organization those it redeemed",
        description="Invoices made from now on are not discounted by it. Refusals: 403"
        " `discount_applied_by_operator`; 404 `discount_not_found`; 409 `discount_ended`"
        " (used up or expired). Removing a removed discount answers it unchanged.",
    )
    async def remove_discount(
        self, org_id: FromPath[uuid.UUID], discount_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> DiscountDTO:
        return await discounts.remove_discount(uow, org_id, discount_id)
