"""Disputes (chargebacks), projected from Stripe's `charge.dispute.created`, `.updated`,
`.closed`, `.funds_withdrawn` and `.funds_reinstated` events, one row per provider dispute id.

The disputed payment is the one whose provider id is the dispute's `payment_intent`. Events
may arrive in any order and more than once: any of them creates the row if it is missing, a
state already recorded changes nothing, and a closed dispute (`won`, `lost`,
`warning_closed`) never reopens from a stale event. A `lost` dispute counts like a refund
(it is held against the payment's refundable amount; cooperative subtracts it)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, get_args

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from modules.billing.contracts import (
    DISPUTE_CLOSED,
    DISPUTE_CREATED,
    DISPUTE_UPDATED,
    DisputeDTO,
    DisputeStatus,
)
from modules.billing.models import Dispute, Payment
from platform_core.core.errors import InvalidRequest
from platform_core.core.ids import uuid7
from platform_core.messaging.events import Event, Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of

STATUSES: tuple[str, ...] = get_args(DisputeStatus)
CLOSED = ("won", "lost", "warning_closed")
_TRACKED = (
    "amount",
    "currency",
    "reason",
    "status",
    "evidence_due_by",
    "funds_withdrawn_at",
    "funds_reinstated_at",
)


def dispute_dto(d: Dispute) -> DisputeDTO:
    return DisputeDTO(
        id=d.id,
        org_id=d.org_id,
        account_id=d.account_id,
        payment_id=d.payment_id,
        invoice_id=d.invoice_id,
        provider=d.provider,
        provider_dispute_id=d.provider_dispute_id,
        provider_charge_id=d.provider_charge_id,
        provider_payment_id=d.provider_payment_id,
        amount=d.amount,
        currency=d.currency,
        reason=d.reason,
        status=d.status,  # type: ignore[arg-type]
        evidence_due_by=d.evidence_due_by,
        funds_withdrawn_at=d.funds_withdrawn_at,
        funds_reinstated_at=d.funds_reinstated_at,
        closed_at=d.closed_at,
        created_at=d.created_at,
    )


def _id(value: Any) -> str | None:
    if isinstance(value, dict):  # an expanded object
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _due_by(obj: dict[str, Any]) -> datetime | None:
    details = obj.get("evidence_details")
    due = details.get("due_by") if isinstance(details, dict) else None
    return datetime.fromtimestamp(due, UTC) if isinstance(due, int) and not isinstance(due, bool) else None


async def apply_stripe_dispute(
    uow: UnitOfWork, kind: str, obj: dict[str, Any], occurred_at: datetime
) -> None:
    """`kind`: the event's type after `charge.dispute.`."""
    dispute_id, amount, currency, status = (
        obj.get("id"),
        obj.get("amount"),
        obj.get("currency"),
        obj.get("status"),
    )
    if (
        not isinstance(dispute_id, str)
        or not isinstance(amount, int)
        or amount < 0
        or not isinstance(currency, str)
        or status not in STATUSES
    ):
        raise InvalidRequest("a dispute needs id, amount, currency and a known status")
    intent = _id(obj.get("payment_intent"))
    payment = (
        await uow.session.scalar(
            select(Payment).where(Payment.provider == "stripe", Payment.provider_payment_id == intent)
        )
        if intent
        else None
    )
    reason: str = obj["reason"] if isinstance(obj.get("reason"), str) else "general"
    created = (
        await uow.session.execute(
            insert(Dispute.__table__)  # type: ignore[arg-type]
            .values(
                id=uuid7(),
                org_id=payment.org_id if payment else None,
                account_id=payment.account_id if payment else None,
                payment_id=payment.id if payment else None,
                invoice_id=payment.invoice_id if payment else None,
                provider="stripe",
                provider_dispute_id=dispute_id,
                provider_charge_id=_id(obj.get("charge")),
                provider_payment_id=intent,
                amount=amount,
                currency=currency.upper(),
                reason=reason,
                status=status,
                evidence_due_by=_due_by(obj),
            )
            .on_conflict_do_nothing(index_elements=["provider", "provider_dispute_id"])
            .returning(Dispute.__table__.c.id)
        )
    ).scalar_one_or_none()
    dispute = await uow.session.scalar(
        select(Dispute)
        .where(Dispute.provider == "stripe", Dispute.provider_dispute_id == dispute_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert dispute is not None
    before = {name: getattr(dispute, name) for name in _TRACKED}
    was_closed = dispute.status in CLOSED
    if not was_closed:  # a closed dispute never reopens from a late event
        dispute.status, dispute.amount, dispute.reason = status, amount, reason
        dispute.evidence_due_by = _due_by(obj) or dispute.evidence_due_by
    if kind == "funds_withdrawn" and dispute.funds_withdrawn_at is None:
        dispute.funds_withdrawn_at = occurred_at
    if kind == "funds_reinstated" and dispute.funds_reinstated_at is None:
        dispute.funds_reinstated_at = occurred_at
    closing = dispute.status in CLOSED and (created is not None or not was_closed)
    if closing:
        dispute.closed_at = occurred_at
    await uow.session.flush()
    await uow.session.refresh(dispute)
    if created is not None:
        await _announce(uow, DISPUTE_CREATED, dispute)
    elif any(getattr(dispute, name) != value for name, value in before.items()) and not closing:
        await _announce(uow, DISPUTE_UPDATED, dispute)
    if closing:
        await _announce(uow, DISPUTE_CLOSED, dispute)


async def _announce(uow: UnitOfWork, event_type: str, dispute: Dispute) -> None:
    await uow.emit(
        event_type,
        subject=Subject(type="dispute", id=str(dispute.id), name=dispute.provider_dispute_id),
        data=dispute_dto(dispute),
        org_id=dispute.org_id,
    )


async def on_stripe_dispute(uow: UnitOfWork, event: Event) -> None:
    """Every `charge.dispute.*` event Keel subscribes to (the kind is the type's tail)."""
    payload = event.data.get("payload") or {}
    obj = (payload.get("data") or {}).get("object")
    if not isinstance(obj, dict):
        raise InvalidRequest("the event carries no data.object")
    kind = str(payload.get("type") or event.type).rpartition(".")[2]
    await apply_stripe_dispute(uow, kind, obj, event.occurred_at)


async def list_disputes(
    uow: UnitOfWork, org_id: uuid.UUID | None, *, limit: int, cursor: str | None
) -> Page[DisputeDTO]:
    """An organization's disputes, or (None) every dispute, for operators."""
    query = select(Dispute)
    if org_id is not None:
        query = query.where(Dispute.org_id == org_id)
    stmt = keyset(query, [Dispute.id.expression], cursor=cursor, limit=limit)
    return page_of(list(await uow.session.scalars(stmt)), limit, lambda d: [str(d.id)], dispute_dto)
