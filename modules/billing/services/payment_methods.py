"""Payment methods: a projection of the provider's, built from Stripe's
`setup_intent.succeeded` and `payment_method.attached` / `.updated` / `.detached` events (the
account is the one whose `provider_customer_id` is the method's customer). Only what identifies
a method to its owner is kept (type, brand, last four digits, expiry, billing country), never a
card number.

Org billing admins list them, choose the default (one per account: a partial unique index; the
first method attached becomes it) and detach one: detaching asks the provider
(`billing.payment_method.detach_requested`); the projection marks it detached when the
provider confirms."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from modules.billing.contracts import (
    PAYMENT_METHOD_ATTACHED,
    PAYMENT_METHOD_DETACH_REQUESTED,
    PAYMENT_METHOD_DETACHED,
    PAYMENT_METHOD_UPDATED,
    PaymentMethodDetachRequest,
    PaymentMethodDTO,
)
from modules.billing.models import BillingAccount, PaymentMethod
from modules.billing.services.collection import stripe_object
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound
from platform_core.messaging.events import Event, Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of

PROVIDER = "stripe"
DETAIL_FIELDS = ("type", "brand", "last4", "exp_month", "exp_year", "billing_country")


def payment_method_dto(pm: PaymentMethod) -> PaymentMethodDTO:
    return PaymentMethodDTO(
        id=pm.id,
        account_id=pm.account_id,
        provider=pm.provider,  # type: ignore[arg-type]
        provider_payment_method_id=pm.provider_payment_method_id,
        type=pm.type,
        brand=pm.brand,
        last4=pm.last4,
        exp_month=pm.exp_month,
        exp_year=pm.exp_year,
        billing_country=pm.billing_country,
        is_default=pm.is_default,
        status=pm.status,  # type: ignore[arg-type]
        detach_requested_at=pm.detach_requested_at,
        detached_at=pm.detached_at,
        created_at=pm.created_at,
    )


def details(method: dict[str, Any]) -> dict[str, Any]:
    """What Keel keeps of a Stripe PaymentMethod: nothing a card could be charged with."""
    kind = method.get("type")
    kind = kind if isinstance(kind, str) and kind else "card"
    found = method.get(kind)
    card: dict[str, Any] = found if isinstance(found, dict) else {}
    address = (method.get("billing_details") or {}).get("address") or {}

    def text(value: object, pattern_len: int | None = None) -> str | None:
        if not isinstance(value, str) or not value:
            return None
        return value if pattern_len is None or len(value) == pattern_len else None

    def month(value: object) -> int | None:
        return value if isinstance(value, int) and 1 <= value <= 12 else None

    def year(value: object) -> int | None:
        return value if isinstance(value, int) and 2000 <= value <= 9999 else None

    last4 = text(card.get("last4"), 4)
    country = text(address.get("country"), 2)
    return {
        "type": kind[:50],
        "brand": text(card.get("brand") or card.get("bank_name")),
        "last4": last4 if last4 and last4.isdigit() else None,
        "exp_month": month(card.get("exp_month")),
        "exp_year": year(card.get("exp_year")),
        "billing_country": country.upper() if country else None,
    }


def _subject(pm: PaymentMethod) -> Subject:
    name = f"{pm.brand or pm.type} {pm.last4}" if pm.last4 else pm.provider_payment_method_id
    return Subject(type="payment_method", id=str(pm.id), name=name)


async def _announce(uow: UnitOfWork, event_type: str, pm: PaymentMethod) -> None:
    await uow.emit(event_type, subject=_subject(pm), data=payment_method_dto(pm), org_id=pm.org_id)


async def _row(uow: UnitOfWork, provider_id: str) -> PaymentMethod | None:
    return await uow.session.scalar(
        select(PaymentMethod)
        .where(PaymentMethod.provider == PROVIDER, PaymentMethod.provider_payment_method_id == provider_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _make_default(uow: UnitOfWork, account: BillingAccount, pm: PaymentMethod) -> None:
    await uow.session.execute(
        update(PaymentMethod)
        .where(PaymentMethod.account_id == account.id, PaymentMethod.is_default, PaymentMethod.id != pm.id)
        .values(is_default=False)
    )
    pm.is_default = True
    account.default_payment_method_id = pm.id
    await uow.session.flush()


async def project_attached(uow: UnitOfWork, method: dict[str, Any]) -> None:
    """A method attached to a customer (new, or again: the same event twice changes nothing)."""
    provider_id, customer = method.get("id"), method.get("customer")
    if not isinstance(provider_id, str) or not isinstance(customer, str):
        return
    account = await uow.session.scalar(
        select(BillingAccount).where(BillingAccount.provider_customer_id == customer).with_for_update()
    )
    if account is None:
        return  # a customer that is not a Keel account's
    fields = details(method)
    inserted = (
        await uow.session.execute(
            insert(PaymentMethod.__table__)  # type: ignore[arg-type]
            .values(
                org_id=account.org_id,
                account_id=account.id,
                provider=PROVIDER,
                provider_payment_method_id=provider_id,
                **fields,
            )
            .on_conflict_do_nothing(index_elements=["provider", "provider_payment_method_id"])
            .returning(PaymentMethod.__table__.c.id)
        )
    ).scalar_one_or_none()
    pm = await _row(uow, provider_id)
    assert pm is not None
    if inserted is not None:
        if account.default_payment_method_id is None:
            await _make_default(uow, account, pm)
        await uow.session.refresh(pm)
        await _announce(uow, PAYMENT_METHOD_ATTACHED, pm)
    elif pm.status == "attached":
        await _update(uow, pm, fields)


async def _update(uow: UnitOfWork, pm: PaymentMethod, fields: dict[str, Any]) -> None:
    known = {k: v for k, v in fields.items() if v is not None}
    changed = {k: v for k, v in known.items() if getattr(pm, k) != v}
    if not changed:
        return
    for key, value in changed.items():
        setattr(pm, key, value)
    await uow.session.flush()
    await uow.session.refresh(pm)
    await _announce(uow, PAYMENT_METHOD_UPDATED, pm)


async def on_setup_intent_succeeded(uow: UnitOfWork, event: Event) -> None:
    intent = stripe_object(event)
    method = intent.get("payment_method")
    if isinstance(method, str):  # not expanded: the details come with payment_method.attached
        kinds = intent.get("payment_method_types") or ["card"]
        method = {"id": method, "type": kinds[0] if isinstance(kinds[0], str) else "card"}
    if isinstance(method, dict):
        await project_attached(uow, {**method, "customer": method.get("customer") or intent.get("customer")})


async def on_payment_method_attached(uow: UnitOfWork, event: Event) -> None:
    await project_attached(uow, stripe_object(event))


async def on_payment_method_updated(uow: UnitOfWork, event: Event) -> None:
    method = stripe_object(event)
    provider_id = method.get("id")
    if isinstance(provider_id, str) and (pm := await _row(uow, provider_id)) and pm.status == "attached":
        await _update(uow, pm, details(method))


async def on_payment_method_detached(uow: UnitOfWork, event: Event) -> None:
    provider_id = stripe_object(event).get("id")
    if isinstance(provider_id, str) and (pm := await _row(uow, provider_id)):
        await mark_detached(uow, pm)


async def mark_detached(uow: UnitOfWork, pm: PaymentMethod) -> None:
    if pm.status == "detached":
        return
    if pm.is_default:
        await uow.session.execute(
            update(BillingAccount)
            .where(BillingAccount.id == pm.account_id, BillingAccount.default_payment_method_id == pm.id)
            .values(default_payment_method_id=None)
        )
    pm.status, pm.is_default, pm.detached_at = "detached", False, utcnow()
    await uow.session.flush()
    await uow.session.refresh(pm)
    await _announce(uow, PAYMENT_METHOD_DETACHED, pm)


async def list_payment_methods(
    uow: UnitOfWork, org_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[PaymentMethodDTO]:
    stmt = keyset(
        select(PaymentMethod).where(PaymentMethod.org_id == org_id),
        [PaymentMethod.id.expression],
        cursor=cursor,
        limit=limit,
    )
    return page_of(list(await uow.session.scalars(stmt)), limit, lambda pm: [str(pm.id)], payment_method_dto)


async def _owned(uow: UnitOfWork, org_id: uuid.UUID, pm_id: uuid.UUID) -> PaymentMethod:
    pm = await uow.session.scalar(
        select(PaymentMethod)
        .where(PaymentMethod.id == pm_id, PaymentMethod.org_id == org_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if pm is None:
        raise NotFound(f"payment method {pm_id} does not exist", code="payment_method_not_found")
    return pm


async def set_default(uow: UnitOfWork, org_id: uuid.UUID, pm_id: uuid.UUID) -> PaymentMethodDTO:
    """Make an attached method the account's default (for automatic collection)."""
    pm = await _owned(uow, org_id, pm_id)
    if pm.status != "attached" or pm.detach_requested_at is not None:
        raise Conflict("a detached payment method cannot be the default", code="payment_method_detached")
    if not pm.is_default:
        account = await uow.session.scalar(
            select(BillingAccount).where(BillingAccount.id == pm.account_id).with_for_update()
        )
        assert account is not None
        await _make_default(uow, account, pm)
        await uow.session.refresh(pm)
        await _announce(uow, PAYMENT_METHOD_UPDATED, pm)
    return payment_method_dto(pm)


async def request_detach(uow: UnitOfWork, org_id: uuid.UUID, pm_id: uuid.UUID) -> PaymentMethodDTO:
    """Ask the provider to detach the method; it stays listed until the provider confirms.
    Asking again changes nothing."""
    pm = await _owned(uow, org_id, pm_id)
    if pm.status == "attached" and pm.detach_requested_at is None:
        pm.detach_requested_at = utcnow()
        await uow.session.flush()
        await uow.emit(
            PAYMENT_METHOD_DETACH_REQUESTED,
            subject=_subject(pm),
            data=PaymentMethodDetachRequest(
                account_id=pm.account_id,
                provider=pm.provider,  # type: ignore[arg-type]
                provider_payment_method_id=pm.provider_payment_method_id,
            ),
            org_id=pm.org_id,
        )
        await uow.session.refresh(pm)
    return payment_method_dto(pm)
