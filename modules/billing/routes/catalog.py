"""The catalog, for platform operators: products and their prices."""

from __future__ import annotations

import uuid

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from modules.billing import permissions as perm
from modules.billing.contracts import CouponDTO, PriceDTO, ProductDTO, PromotionCodeDTO
from modules.billing.schemas import (
    CreateCoupon,
    CreatePrice,
    CreateProduct,
    CreatePromotionCode,
    SetPriceActive,
    UpdateProduct,
)
from modules.billing.services import catalog, discounts
from platform_core.http.auth import requires
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


class CatalogController(Controller):
    path = "/billing"
    tags = ["billing"]

    @post("/products", guards=[requires(perm.CATALOG_WRITE)], status_code=201, summary="Create a product")
    async def create_product(
        self, data: JSONBody[CreateProduct], uow: NamedDependency[UnitOfWork]
    ) -> ProductDTO:
        return await catalog.create_product(uow, data)

    @get("/products", guards=[requires(perm.CATALOG_READ)], summary="List products")
    async def list_products(
        self, uow: NamedDependency[UnitOfWork], limit: Limit = None, cursor: Cursor = None
    ) -> Page[ProductDTO]:
        return await catalog.list_products(uow, limit=check_limit(limit), cursor=cursor)

    @patch("/products/{product_id:uuid}", guards=[requires(perm.CATALOG_WRITE)], summary="Update a product")
    async def update_product(
        self, product_id: FromPath[uuid.UUID], data: JSONBody[UpdateProduct], uow: NamedDependency[UnitOfWork]
    ) -> ProductDTO:
        return await catalog.update_product(uow, product_id, data)

    @post(
        "/products/{product_id:uuid}/prices",
        guards=[requires(perm.CATALOG_WRITE)],
        status_code=201,
        summary="Create a price (immutable: a new amount is a new price)",
    )
    async def create_price(
        self, product_id: FromPath[uuid.UUID], data: JSONBody[CreatePrice], uow: NamedDependency[UnitOfWork]
    ) -> PriceDTO:
        return await catalog.create_price(uow, product_id, data)

    @get(
        "/products/{product_id:uuid}/prices",
        guards=[requires(perm.CATALOG_READ)],
        summary="A product's prices",
    )
    async def list_prices(
        self,
        product_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[PriceDTO]:
        return await catalog.list_prices(uow, product_id, limit=check_limit(limit), cursor=cursor)

    @patch(
        "/prices/{price_id:uuid}",
        guards=[requires(perm.CATALOG_WRITE)],
        summary="Stop or resume selling a price",
    )
    async def set_active(
        self, price_id: FromPath[uuid.UUID], data: JSONBody[SetPriceActive], uow: NamedDependency[UnitOfWork]
    ) -> PriceDTO:
        return await catalog.set_price_active(uow, price_id, data.active)

    @post("/coupons", guards=[requires(perm.CATALOG_WRITE)], status_code=201, summary="Create a coupon")
    async def create_coupon(
        self, data: JSONBody[CreateCoupon], uow: NamedDependency[UnitOfWork]
    ) -> CouponDTO:
        return await discounts.create_coupon(uow, data)

    @get("/coupons", guards=[requires(perm.CATALOG_READ)], summary="List coupons")
    async def list_coupons(
        self, uow: NamedDependency[UnitOfWork], limit: Limit = None, cursor: Cursor = None
    ) -> Page[CouponDTO]:
        return await discounts.list_coupons(uow, limit=check_limit(limit), cursor=cursor)

    @post(
        "/coupons/{coupon_id:uuid}/promotion-codes",
        guards=[requires(perm.CATALOG_WRITE)],
        status_code=201,
        summary="Create a customer-facing code for a coupon",
    )
    async def create_code(
        self,
        coupon_id: FromPath[uuid.UUID],
        data: JSONBody[CreatePromotionCode],
        uow: NamedDependency[UnitOfWork],
    ) -> PromotionCodeDTO:
        return await discounts.create_promotion_code(uow, coupon_id, data)
