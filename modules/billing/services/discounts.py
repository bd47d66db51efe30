"""Coupons, their promotion codes, and what the discounts they apply take off invoices.

A discount (services/discount_applications.py applies and removes them) is on an account or on
one subscription. Every invoice draft asks `discount_lines` for its lines' discounts: the
invoice of a subscription gets that subscription's discount if one is in force, else the
account's (Stripe: the subscription's overrides the customer's); any other invoice gets the
account's. Discounts never stack: one per invoice. The discount row is locked while it is
used, so a `once` discount reduces exactly one invoice however many are made at once; a
`repeating` one reduces the invoices made before its `ends_at`; `forever` every one."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select

from modules.billing.contracts import COUPON_CREATED, PROMOTION_CODE_CREATED, CouponDTO, PromotionCodeDTO
from modules.billing.models import BillingAccount, Coupon, Discount, PromotionCode
from modules.billing.schemas import CreateCoupon, CreatePromotionCode
from modules.billing.services import job_batch
from modules.billing.services.discount_math import discount_amounts, in_force
from modules.billing.services.invoice_lines import Line
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of


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
        first_time_transaction=p.first_time_transaction,
        minimum_amount=p.minimum_amount,
        minimum_amount_currency=p.minimum_amount_currency,
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


async def list_coupons(uow: UnitOfWork, *, limit: int, cursor: str | None) -> Page[CouponDTO]:
    """Oldest first (ids are time-ordered)."""
    stmt = keyset(select(Coupon), [Coupon.id.expression], cursor=cursor, limit=limit)
    return page_of(list(await uow.session.scalars(stmt)), limit, lambda c: [str(c.id)], coupon_dto)


async def create_promotion_code(
    uow: UnitOfWork, coupon_id: uuid.UUID, data: CreatePromotionCode
) -> PromotionCodeDTO:
    coupon = await uow.session.get(Coupon, coupon_id)
    if coupon is None:
        raise NotFound(f"coupon {coupon_id} does not exist", code="coupon_not_found")
    code = data.code.upper()
    if await uow.session.scalar(select(PromotionCode.id).where(PromotionCode.code == code)):
        raise Conflict(f"the code {code} exists", code="promotion_code_taken")
    if (data.minimum_amount is None) != (data.minimum_amount_currency is None):
        raise _invalid("minimum_amount goes with, and only with, minimum_amount_currency")
    promo = PromotionCode(
        coupon_id=coupon.id,
        code=code,
        max_redemptions=data.max_redemptions,
        expires_at=data.expires_at,
        first_time_transaction=data.first_time_transaction,
        minimum_amount=data.minimum_amount,
        minimum_amount_currency=data.minimum_amount_currency,
    )
    uow.session.add(promo)
    await uow.session.flush()
    await uow.session.refresh(promo)
    await uow.emit(
        PROMOTION_CODE_CREATED, subject=Subject(type="promotion_code", id=str(promo.id), name=code)
    )
    return code_dto(promo)


async def discount_in_force(
    uow: UnitOfWork,
    account_id: uuid.UUID,
    subscription_id: uuid.UUID | None,
    at: datetime,
    *,
    lock: bool,
) -> Discount | None:
    """The discount an invoice made at `at` gets: the subscription's, else the account's.
    `lock`: rows are locked, and one whose `ends_at` passed is ended (`expired`) on the way."""
    batch = job_batch.current(uow)
    rows: Iterable[Discount]
    if (
        batch is not None
        and batch.discounts is not None
        and account_id in batch.account_ids
        and (subscription_id is None or subscription_id in batch.subscription_ids)
    ):  # read and locked already
        rows = sorted(
            (
                d
                for d in batch.discounts.get(account_id, ())
                if d.ended_at is None and d.subscription_id in (None, subscription_id)
            ),
            key=lambda d: d.subscription_id is None,  # the subscription's first
        )
    else:
        scope: ColumnElement[bool] = Discount.subscription_id.is_(None)
        if subscription_id is not None:
            scope = or_(scope, Discount.subscription_id == subscription_id)
        stmt = (
            select(Discount)
            .where(Discount.account_id == account_id, Discount.ended_at.is_(None), scope)
            .order_by(Discount.subscription_id.is_(None))  # the subscription's first
        )
        rows = await uow.session.scalars(stmt.with_for_update() if lock else stmt)
    found = None
    for discount in rows:
        if in_force(discount.starts_at, discount.ends_at, at):
            found = found or discount
        elif lock and discount.ends_at is not None and discount.ends_at <= at:
            discount.ended_at, discount.end_reason = discount.ends_at, "expired"
    return found


async def discount_lines(
    uow: UnitOfWork,
    account: BillingAccount,
    subscription_id: uuid.UUID | None,
    lines: list[Line],
    *,
    preview: bool = False,
) -> list[Line]:
    """`lines` of one invoice of `account` (of `subscription_id`, if given) with the discount in
    force applied (see discount_math for the amounts); a `once` discount that took something
    off is used up. `preview`: nothing is locked or written (the upcoming invoice)."""
    now = utcnow()
    discount = await discount_in_force(uow, account.id, subscription_id, now, lock=not preview)
    if discount is None or not lines:
        return lines
    coupon = await uow.session.get_one(Coupon, discount.coupon_id)
    if coupon.currency is not None and coupon.currency != account.currency:
        return lines  # refused when applied; kept out of any invoice all the same
    amounts = discount_amounts(
        [line.amount for line in lines], percent_off_bp=coupon.percent_off_bp, amount_off=coupon.amount_off
    )
    if not any(amounts):
        return lines
    if coupon.duration == "once" and not preview:
        discount.ended_at, discount.end_reason = now, "used"
    if not preview:
        await uow.session.flush()
    return [replace(line, discount_amount=amount) for line, amount in zip(lines, amounts, strict=True)]
