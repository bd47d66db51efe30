"""Putting discounts on accounts and subscriptions, taking them off, and listing them.

Operators put any coupon on an account or a subscription. An organization redeems only a
promotion code, never a bare coupon: no customer grants itself a discount. Both count a
redemption of the coupon (and the code) under their row locks, in the transaction that writes
the discount, so a code limited to N uses is used at most N times however many try at once.
The account's row is locked first (FOR NO KEY UPDATE), so two applications to one account
serialize; at most one discount is in force per account and per subscription (409
`discount_exists`: remove it first).

A code's restrictions are checked when it is redeemed: `first_time_transaction` refuses an
account that has an open or paid invoice; `minimum_amount` is compared with the recurring
amount per period, before any discount, of what the discount would apply to: the subscription's
licensed items, or (on the account) those of every live subscription of the account."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import aliased

from modules.billing import permissions as perm
from modules.billing.contracts import DISCOUNT_APPLIED, DISCOUNT_REMOVED, DiscountDTO
from modules.billing.models import (
    BillingAccount,
    Coupon,
    Discount,
    Invoice,
    Price,
    PromotionCode,
    Subscription,
    SubscriptionItem,
)
from modules.billing.schemas import ApplyCoupon
from modules.billing.services.catalog import tiers_of
from modules.billing.services.discount_math import discount_end, in_force
from modules.billing.services.discounts import coupon_dto, discount_in_force
from modules.billing.services.money import amount_for
from modules.organization import api as org_api
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of

LIVE_STATUSES = ("trialing", "active", "past_due", "paused")
ENDED_SUBSCRIPTION = ("canceled", "unpaid", "incomplete")


def discount_dto(d: Discount, coupon: Coupon, code: str | None) -> DiscountDTO:
    """`status` as of now: a discount whose `ends_at` passed is ended (`expired`) even before
    the next invoice writes it so."""
    now = utcnow()
    active = d.ended_at is None and in_force(d.starts_at, d.ends_at, now)
    lapsed = d.ended_at is None and not active
    return DiscountDTO(
        id=d.id,
        org_id=d.org_id,
        account_id=d.account_id,
        subscription_id=d.subscription_id,
        coupon=coupon_dto(coupon),
        promotion_code=code,
        status="active" if active else "ended",
        starts_at=d.starts_at,
        ends_at=d.ends_at,
        ended_at=d.ends_at if lapsed else d.ended_at,
        end_reason="expired" if lapsed else d.end_reason,  # type: ignore[arg-type]
        applied_by=d.applied_by,
        applied_by_operator=d.applied_by_operator,
        ended_by=d.ended_by,
    )


async def acting_as_operator(uow: UnitOfWork) -> bool:
    """A platform admin, or a holder of the platform-scope grant of `billing.discounts:apply`."""
    principal = uow.principal
    if principal is None:
        return False
    if principal.is_platform_admin:
        return True
    return await org_api.is_allowed(uow, principal, perm.DISCOUNTS_APPLY, None) is True


async def _locked_account(uow: UnitOfWork, org_id: uuid.UUID) -> BillingAccount:
    account = await uow.session.scalar(
        select(BillingAccount).where(BillingAccount.org_id == org_id).with_for_update(key_share=True)
    )  # FOR NO KEY UPDATE: serializes applications, not the inserts that reference the account
    if account is None:
        raise NotFound(f"organization {org_id} has no billing account", code="billing_account_not_found")
    if account.status != "active":
        raise Conflict("the billing account is closed", code="billing_account_closed")
    return account


async def _target(
    uow: UnitOfWork, account: BillingAccount, subscription_id: uuid.UUID | None
) -> Subscription | None:
    if subscription_id is None:
        return None
    sub = await uow.session.scalar(
        select(Subscription).where(Subscription.id == subscription_id, Subscription.org_id == account.org_id)
    )
    if sub is None:
        raise NotFound(f"subscription {subscription_id} does not exist", code="subscription_not_found")
    if sub.status in ENDED_SUBSCRIPTION:
        raise Conflict(f"subscription {sub.id} is {sub.status}", code="subscription_not_live")
    return sub


async def _recurring_amount(uow: UnitOfWork, account: BillingAccount, sub: Subscription | None) -> int:
    """What `minimum_amount` is compared with: the current licensed items' amount per period."""
    stmt = (
        select(SubscriptionItem.quantity, Price)
        .join(Price, Price.id == SubscriptionItem.price_id)
        .join(Subscription, Subscription.id == SubscriptionItem.subscription_id)
        .where(Price.usage_type == "licensed", SubscriptionItem.removed_at.is_(None))
    )
    if sub is not None:
        stmt = stmt.where(Subscription.id == sub.id)
    else:
        stmt = stmt.where(Subscription.account_id == account.id, Subscription.status.in_(LIVE_STATUSES))
    rows = (await uow.session.execute(stmt)).all()
    return sum(
        amount_for(q, unit_amount=p.unit_amount, tiers=tiers_of(p), tiers_mode=p.tiers_mode) for q, p in rows
    )


def _check_coupon(coupon: Coupon, account: BillingAccount, label: str) -> None:
    now = utcnow()
    if not coupon.active:
        raise Conflict(f"{label} is not active", code="promotion_code_inactive")
    if coupon.redeem_by and coupon.redeem_by <= now:
        raise Conflict(f"{label} has expired", code="promotion_code_expired")
    if coupon.max_redemptions is not None and coupon.times_redeemed >= coupon.max_redemptions:
        raise Conflict(f"{label} has been used up", code="promotion_code_exhausted")
    if coupon.currency is not None and coupon.currency != account.currency:
        raise Unprocessable(
            f"{label} is for {coupon.currency}, the account is in {account.currency}",
            code="currency_mismatch",
        )


async def _check_restrictions(
    uow: UnitOfWork, promo: PromotionCode, account: BillingAccount, sub: Subscription | None
) -> None:
    now = utcnow()
    if not promo.active:
        raise Conflict(f"the code {promo.code} is not active", code="promotion_code_inactive")
    if promo.expires_at and promo.expires_at <= now:
        raise Conflict(f"the code {promo.code} has expired", code="promotion_code_expired")
    if promo.max_redemptions is not None and promo.times_redeemed >= promo.max_redemptions:
        raise Conflict(f"the code {promo.code} has been used up", code="promotion_code_exhausted")
    if promo.first_time_transaction and await uow.session.scalar(
        select(exists().where(Invoice.account_id == account.id, Invoice.status.in_(("open", "paid"))))
    ):
        raise Unprocessable(
            f"the code {promo.code} is for first-time customers: the account has invoices",
            code="promotion_code_first_time_only",
        )
    if promo.minimum_amount is not None:
        if promo.minimum_amount_currency != account.currency:
            raise Unprocessable(
                f"the code {promo.code} needs an amount in {promo.minimum_amount_currency}",
                code="currency_mismatch",
            )
        amount = await _recurring_amount(uow, account, sub)
        if amount < promo.minimum_amount:
            raise Unprocessable(
                f"the code {promo.code} needs at least {promo.minimum_amount} per period; this is {amount}",
                code="promotion_code_minimum_amount",
            )


async def _write(
    uow: UnitOfWork,
    account: BillingAccount,
    sub: Subscription | None,
    coupon: Coupon,
    promo: PromotionCode | None,
) -> DiscountDTO:
    now = utcnow()
    current = await discount_in_force(uow, account.id, sub.id if sub else None, now, lock=True)
    await uow.session.flush()  # one whose end passed is ended before another takes its place
    if current is not None and current.subscription_id == (sub.id if sub else None):
        raise Conflict(f"discount {current.id} is in force there; remove it first", code="discount_exists")
    coupon.times_redeemed += 1
    if promo is not None:
        promo.times_redeemed += 1
    discount = Discount(
        org_id=account.org_id,
        account_id=account.id,
        subscription_id=sub.id if sub else None,
        coupon_id=coupon.id,
        promotion_code_id=promo.id if promo else None,
        starts_at=now,
        ends_at=discount_end(coupon.duration, coupon.duration_in_periods, now),
        applied_by=uow.actor.id,
        applied_by_operator=await acting_as_operator(uow),
    )
    uow.session.add(discount)
    await uow.session.flush()
    dto = discount_dto(discount, coupon, promo.code if promo else None)
    await uow.emit(
        DISCOUNT_APPLIED,
        subject=Subject(type="discount", id=str(discount.id)),
        data=dto,
        org_id=account.org_id,
    )
    return dto


async def apply_coupon(uow: UnitOfWork, org_id: uuid.UUID, data: ApplyCoupon) -> DiscountDTO:
    """Operators: `data.coupon_id` on the account or one of its subscriptions."""
    account = await _locked_account(uow, org_id)
    sub = await _target(uow, account, data.subscription_id)
    coupon = await uow.session.scalar(select(Coupon).where(Coupon.id == data.coupon_id).with_for_update())
    if coupon is None:
        raise NotFound(f"coupon {data.coupon_id} does not exist", code="coupon_not_found")
    _check_coupon(coupon, account, f"coupon {coupon.key}")
    return await _write(uow, account, sub, coupon, None)


async def redeem_code(
    uow: UnitOfWork, org_id: uuid.UUID, code: str, subscription_id: uuid.UUID | None
) -> DiscountDTO:
    """A promotion code on the account or one of its subscriptions, or a 404/409/422 refusal."""
    account = await _locked_account(uow, org_id)
    sub = await _target(uow, account, subscription_id)
    promo = await uow.session.scalar(
        select(PromotionCode).where(PromotionCode.code == code.upper()).with_for_update()
    )
    if promo is None:
        raise NotFound(f"no promotion code {code.upper()}", code="promotion_code_not_found")
    coupon = await uow.session.scalar(select(Coupon).where(Coupon.id == promo.coupon_id).with_for_update())
    assert coupon is not None
    await _check_restrictions(uow, promo, account, sub)
    _check_coupon(coupon, account, f"the code {promo.code}")
    return await _write(uow, account, sub, coupon, promo)


async def redeem_at_subscribe(uow: UnitOfWork, code: str, sub: Subscription) -> None:
    """`promotion_code` of a new subscription (its items written, its first invoice not yet)."""
    await redeem_code(uow, sub.org_id, code, sub.id)


async def remove_discount(uow: UnitOfWork, org_id: uuid.UUID, discount_id: uuid.UUID) -> DiscountDTO:
    """End a discount now: operators any, an organization only those it redeemed. Removing a
    removed discount changes nothing; one used up or expired is 409 `discount_ended`. The
    redemption stays counted (as Stripe's)."""
    discount = await uow.session.scalar(
        select(Discount).where(Discount.id == discount_id, Discount.org_id == org_id).with_for_update()
    )
    if discount is None:
        raise NotFound(f"discount {discount_id} does not exist", code="discount_not_found")
    if discount.applied_by_operator and not await acting_as_operator(uow):
        raise Forbidden(
            "an operator applied this discount; only an operator removes it",
            code="discount_applied_by_operator",
        )
    coupon = await uow.session.get_one(Coupon, discount.coupon_id)
    code = await _code_of(uow, discount)
    if discount.end_reason == "removed":
        return discount_dto(discount, coupon, code)
    now = utcnow()
    if discount.ended_at is not None or not in_force(discount.starts_at, discount.ends_at, now):
        raise Conflict(f"discount {discount.id} has ended", code="discount_ended")
    discount.ended_at, discount.end_reason, discount.ended_by = now, "removed", uow.actor.id
    await uow.session.flush()
    dto = discount_dto(discount, coupon, code)
    await uow.emit(
        DISCOUNT_REMOVED, subject=Subject(type="discount", id=str(discount.id)), data=dto, org_id=org_id
    )
    return dto


async def _code_of(uow: UnitOfWork, discount: Discount) -> str | None:
    if discount.promotion_code_id is None:
        return None
    return (await uow.session.get_one(PromotionCode, discount.promotion_code_id)).code


def _with_coupon_and_code() -> Select[Any]:
    """Discounts with their coupon and code (one query, no query per row)."""
    code = aliased(PromotionCode)
    stmt = (
        select(Discount, Coupon, code.code)
        .join(Coupon, Coupon.id == Discount.coupon_id)
        .outerjoin(code, code.id == Discount.promotion_code_id)
    )
    return cast("Select[Any]", stmt)


async def list_discounts(
    uow: UnitOfWork,
    org_id: uuid.UUID,
    *,
    subscription_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> Page[DiscountDTO]:
    """The organization's discounts, current and ended, oldest first (one query per page)."""
    stmt = _with_coupon_and_code().where(Discount.org_id == org_id)
    if subscription_id is not None:
        stmt = stmt.where(Discount.subscription_id == subscription_id)
    rows = (
        await uow.session.execute(keyset(stmt, [Discount.id.expression], cursor=cursor, limit=limit))
    ).all()
    return page_of(rows, limit, lambda r: [str(r[0].id)], lambda r: discount_dto(r[0], r[1], r[2]))
