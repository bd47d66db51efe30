"""Coupons, their promotion codes, and the discounts they apply to subscriptions.

Redeeming a code locks it and its coupon, checks that both are live (active, not expired,
redemptions left, the currency of an amount-off coupon), and counts the redemption in the same
transaction as the subscription, so a code limited to N uses is used at most N times however
many customers try at once. A discount reduces the subscription's period lines of the next
invoices: all of them (`forever`), one (`once`), or `duration_in_periods` of them."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal

from sqlalchemy import select

from modules.billing.contracts import COUPON_CREATED, PROMOTION_CODE_CREATED, CouponDTO, PromotionCodeDTO
from modules.billing.models import Coupon, Discount, PromotionCode, Subscription
from modules.billing.schemas import CreateCoupon, CreatePromotionCode
from modules.billing.services.invoices import Line
from modules.billing.services.money import to_minor
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork


def coupon_dto(c: Coupon) -> CouponDTO:
    return CouponDTO(
        id=c.id,
        key=c.key,
        name=c.name,
        percent_off_bp=c.percent_off_bp,
        amount_off=c.amount_off,
        currency=c.currency,
        duration=c.duration,  # type: ignore[arg-type]
        duration_in_periods=c.duration_in_periods,
        max_redemptions=c.max_redemptions,
        times_redeemed=c.times_redeemed,
        redeem_by=c.redeem_by,
        active=c.active,
    )


def code_dto(p: PromotionCode) -> PromotionCodeDTO:
    return PromotionCodeDTO(
        id=p.id,
        coupon_id=p.coupon_id,
        code=p.code,
        active=p.active,
        max_redemptions=p.max_redemptions,
        times_redeemed=p.times_redeemed,
        expires_at=p.expires_at,
    )


def _invalid(message: str) -> Unprocessable:
    return Unprocessable(message, code="invalid_coupon")


async def create_coupon(uow: UnitOfWork, data: CreateCoupon) -> CouponDTO:
    if (data.percent_off_bp is None) == (data.amount_off is None):
        raise _invalid("a coupon takes percent_off_bp or amount_off")
    if data.amount_off is not None and data.currency is None:
        raise _invalid("an amount_off coupon names its currency")
    if (data.duration == "repeating") != (data.duration_in_periods is not None):
        raise _invalid("duration_in_periods goes with, and only with, duration 'repeating'")
    if await uow.session.scalar(select(Coupon.id).where(Coupon.key == data.key)):
        raise Conflict(f"a coupon with key {data.key!r} exists", code="coupon_key_taken")
    coupon = Coupon(
        key=data.key,
        name=data.name,
        percent_off_bp=data.percent_off_bp,
        amount_off=data.amount_off,
        currency=data.currency,
        duration=data.duration,
        duration_in_periods=data.duration_in_periods,
        max_redemptions=data.max_redemptions,
        redeem_by=data.redeem_by,
    )
    uow.session.add(coupon)
    await uow.session.flush()
    await uow.session.refresh(coupon)
    await uow.emit(COUPON_CREATED, subject=Subject(type="coupon", id=str(coupon.id), name=coupon.key))
    return coupon_dto(coupon)


async def list_coupons(uow: UnitOfWork) -> list[CouponDTO]:
    return [coupon_dto(c) for c in await uow.session.scalars(select(Coupon).order_by(Coupon.created_at))]


async def create_promotion_code(
    uow: UnitOfWork, coupon_id: uuid.UUID, data: CreatePromotionCode
) -> PromotionCodeDTO:
    coupon = await uow.session.get(Coupon, coupon_id)
    if coupon is None:
        raise NotFound(f"coupon {coupon_id} does not exist", code="coupon_not_found")
    code = data.code.upper()
    if await uow.session.scalar(select(PromotionCode.id).where(PromotionCode.code == code)):
        raise Conflict(f"the code {code} exists", code="promotion_code_taken")
    promo = PromotionCode(
        coupon_id=coupon.id, code=code, max_redemptions=data.max_redemptions, expires_at=data.expires_at
    )
    uow.session.add(promo)
    await uow.session.flush()
    await uow.session.refresh(promo)
    await uow.emit(
        PROMOTION_CODE_CREATED, subject=Subject(type="promotion_code", id=str(promo.id), name=code)
    )
    return code_dto(promo)


async def redeem(uow: UnitOfWork, code: str, sub: Subscription) -> None:
    """Apply the code's coupon to `sub`, counting the redemption, or refuse with a 404/409/422."""
    promo = await uow.session.scalar(
        select(PromotionCode).where(PromotionCode.code == code.upper()).with_for_update()
    )
    if promo is None:
        raise NotFound(f"no promotion code {code.upper()}", code="promotion_code_not_found")
    coupon = await uow.session.scalar(select(Coupon).where(Coupon.id == promo.coupon_id).with_for_update())
    assert coupon is not None
    now = utcnow()
    if not (promo.active and coupon.active):
        raise Conflict(f"the code {promo.code} is not active", code="promotion_code_inactive")
    if (promo.expires_at and promo.expires_at <= now) or (coupon.redeem_by and coupon.redeem_by <= now):
        raise Conflict(f"the code {promo.code} has expired", code="promotion_code_expired")
    for counted in (promo, coupon):
        if counted.max_redemptions is not None and counted.times_redeemed >= counted.max_redemptions:
            raise Conflict(f"the code {promo.code} has been used up", code="promotion_code_exhausted")
    if coupon.currency is not None and coupon.currency != sub.currency:
        raise Unprocessable(
            f"the code {promo.code} is for {coupon.currency}, the subscription is in {sub.currency}",
            code="currency_mismatch",
        )
    promo.times_redeemed += 1
    coupon.times_redeemed += 1
    periods = {"once": 1, "repeating": coupon.duration_in_periods, "forever": None}[coupon.duration]
    uow.session.add(
        Discount(
            org_id=sub.org_id,
            subscription_id=sub.id,
            coupon_id=coupon.id,
            promotion_code_id=promo.id,
            periods_remaining=periods,
        )
    )
    await uow.session.flush()


async def discounted(uow: UnitOfWork, sub: Subscription, lines: list[Line]) -> list[Line]:
    """`lines` of one period with the subscription's discount applied, using up one of its
    periods: percent per line (half-to-even), an amount spread over the lines in order."""
    discount = await uow.session.scalar(
        select(Discount)
        .where(Discount.subscription_id == sub.id, Discount.ended_at.is_(None))
        .with_for_update()
    )
    if discount is None or not lines:
        return lines
    coupon = await uow.session.get_one(Coupon, discount.coupon_id)
    if coupon.percent_off_bp is not None:
        share = Decimal(coupon.percent_off_bp) / Decimal(10000)
        lines = [
            replace(
                line,
                discount_amount=to_minor(line.amount * share),
            )
            for line in lines
        ]
    else:
        left = coupon.amount_off or 0
        applied = []
        for line in lines:
            take = max(0, min(left, line.amount))
            left -= take
            applied.append(replace(line, discount_amount=take))
        lines = applied
    if discount.periods_remaining is not None:
        discount.periods_remaining -= 1
        if discount.periods_remaining == 0:
            discount.ended_at = utcnow()
    await uow.session.flush()
    return lines
