"""The catalog: products (pinned to an entitlement set version) and their immutable prices."""

from __future__ import annotations

import uuid

import msgspec
from sqlalchemy import select

from modules.billing.contracts import (
    PRICE_CREATED,
    PRICE_UPDATED,
    PRODUCT_CREATED,
    PRODUCT_UPDATED,
    PriceDTO,
    ProductDTO,
    Tier,
)
from modules.billing.models import Price, Product
from modules.billing.schemas import CreatePrice, CreateProduct, UpdateProduct
from modules.billing.services.money import check_tiers
from modules.entitlements import api as ent_api
from platform_core.core.errors import Conflict, NotFound, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of


def product_dto(p: Product) -> ProductDTO:
    return ProductDTO(
        id=p.id,
        key=p.key,
        name=p.name,
        description=p.description,
        entitlement_set_id=p.entitlement_set_id,
        active=p.active,
        created_at=p.created_at,
        trial_period_days=p.trial_period_days,
    )


def price_dto(p: Price) -> PriceDTO:
    return PriceDTO(
        id=p.id,
        product_id=p.product_id,
        lookup_key=p.lookup_key,
        currency=p.currency,
        type=p.type,  # type: ignore[arg-type]
        unit_amount=p.unit_amount,
        interval=p.interval,  # type: ignore[arg-type]
        interval_count=p.interval_count,
        usage_type=p.usage_type,  # type: ignore[arg-type]
        billing_scheme=p.billing_scheme,  # type: ignore[arg-type]
        tiers=tiers_of(p),
        tiers_mode=p.tiers_mode,  # type: ignore[arg-type]
        metered_resource_key=p.metered_resource_key,
        active=p.active,
        created_at=p.created_at,
        trial_period_days=p.trial_period_days,
    )


def tiers_of(p: Price) -> list[Tier] | None:
    return msgspec.convert(p.tiers, list[Tier]) if p.tiers is not None else None


async def _set_id(uow: UnitOfWork, key: str | None, set_id: uuid.UUID | None) -> uuid.UUID | None:
    if key is not None and set_id is not None:
        raise Unprocessable(
            "name the entitlement set by key or by id, not both", code="invalid_entitlement_set"
        )
    if key is not None:
        return (await ent_api.get_set(uow, key)).id
    if set_id is not None:
        return (await ent_api.get_set_by_id(uow, set_id)).id
    return None


async def product_row(uow: UnitOfWork, product_id: uuid.UUID) -> Product:
    product = await uow.session.get(Product, product_id)
    if product is None:
        raise NotFound(f"product {product_id} does not exist", code="product_not_found")
    return product


async def create_product(uow: UnitOfWork, data: CreateProduct) -> ProductDTO:
    if await uow.session.scalar(select(Product.id).where(Product.key == data.key)):
        raise Conflict(f"a product with key {data.key!r} exists", code="product_key_taken")
    product = Product(
        key=data.key,
        name=data.name,
        description=data.description,
        entitlement_set_id=await _set_id(uow, data.entitlement_set_key, data.entitlement_set_id),
        trial_period_days=data.trial_period_days,
    )
    uow.session.add(product)
    await uow.session.flush()
    await uow.session.refresh(product)
    await uow.emit(PRODUCT_CREATED, subject=Subject(type="product", id=str(product.id), name=product.key))
    return product_dto(product)


async def update_product(uow: UnitOfWork, product_id: uuid.UUID, changes: UpdateProduct) -> ProductDTO:
    product = await product_row(uow, product_id)
    if changes.name is not msgspec.UNSET:
        product.name = changes.name
    if changes.description is not msgspec.UNSET:
        product.description = changes.description
    if changes.active is not msgspec.UNSET:
        product.active = changes.active
    if changes.entitlement_set_key is not msgspec.UNSET:
        product.entitlement_set_id = await _set_id(uow, changes.entitlement_set_key, None)
    if changes.trial_period_days is not msgspec.UNSET:
        product.trial_period_days = changes.trial_period_days
    await uow.session.flush()
    await uow.session.refresh(product)
    await uow.emit(PRODUCT_UPDATED, subject=Subject(type="product", id=str(product.id), name=product.key))
    return product_dto(product)


async def list_products(uow: UnitOfWork, *, limit: int, cursor: str | None) -> Page[ProductDTO]:
    """By key."""
    stmt = keyset(select(Product), [Product.key.expression], cursor=cursor, limit=limit)
    return page_of(list(await uow.session.scalars(stmt)), limit, lambda p: [p.key], product_dto)


def _check_price(data: CreatePrice) -> None:
    def refuse(message: str) -> Unprocessable:
        return Unprocessable(message, code="invalid_price")

    if (data.type == "recurring") != (data.interval is not None):
        raise refuse("a recurring price needs an interval, a one-time price has none")
    if data.usage_type == "metered" and (data.type != "recurring" or not data.metered_resource_key):
        raise refuse("a metered price is recurring and names its metered_resource_key")
    if data.usage_type == "licensed" and data.metered_resource_key:
        raise refuse("only a metered price names a metered_resource_key")
    if data.billing_scheme == "per_unit" and (data.unit_amount is None or data.tiers or data.tiers_mode):
        raise refuse("a per_unit price has a unit_amount and no tiers")
    if data.billing_scheme == "tiered":
        if data.unit_amount is not None or not data.tiers or data.tiers_mode is None:
            raise refuse("a tiered price has tiers and tiers_mode, and no unit_amount")
        check_tiers(data.tiers)


async def create_price(uow: UnitOfWork, product_id: uuid.UUID, data: CreatePrice) -> PriceDTO:
    product = await product_row(uow, product_id)
    _check_price(data)
    if data.lookup_key and await uow.session.scalar(
        select(Price.id).where(Price.lookup_key == data.lookup_key)
    ):
        raise Conflict(f"a price with lookup_key {data.lookup_key!r} exists", code="lookup_key_taken")
    price = Price(
        product_id=product.id,
        lookup_key=data.lookup_key,
        currency=data.currency,
        type=data.type,
        unit_amount=data.unit_amount,
        interval=data.interval,
        interval_count=data.interval_count,
        usage_type=data.usage_type,
        billing_scheme=data.billing_scheme,
        tiers=msgspec.to_builtins(data.tiers) if data.tiers else None,
        tiers_mode=data.tiers_mode,
        metered_resource_key=data.metered_resource_key,
        trial_period_days=data.trial_period_days,
    )
    uow.session.add(price)
    await uow.session.flush()
    await uow.session.refresh(price)
    await uow.emit(
        PRICE_CREATED,
        subject=Subject(type="price", id=str(price.id), name=price.lookup_key),
        data={"product_id": str(product.id), "currency": price.currency, "unit_amount": price.unit_amount},
    )
    return price_dto(price)


async def set_price_active(uow: UnitOfWork, price_id: uuid.UUID, active: bool) -> PriceDTO:
    price = await price_row(uow, price_id)
    if price.active != active:
        price.active = active
        await uow.session.flush()
        await uow.emit(
            PRICE_UPDATED,
            subject=Subject(type="price", id=str(price.id), name=price.lookup_key),
            data={"active": active},
        )
    return price_dto(price)


async def price_row(uow: UnitOfWork, price_id: uuid.UUID) -> Price:
    price = await uow.session.get(Price, price_id)
    if price is None:
        raise NotFound(f"price {price_id} does not exist", code="price_not_found")
    return price


async def list_prices(
    uow: UnitOfWork, product_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[PriceDTO]:
    """Oldest first (ids are time-ordered)."""
    await product_row(uow, product_id)
    stmt = keyset(
        select(Price).where(Price.product_id == product_id), [Price.id.expression], cursor=cursor, limit=limit
    )
    return page_of(list(await uow.session.scalars(stmt)), limit, lambda p: [str(p.id)], price_dto)
