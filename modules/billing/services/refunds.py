"""Refunds: money given back from a payment, after Stripe's Refund.

Keel asks for a refund by recording it `pending` and publishing `billing.refund.created`;
integration's provider relay asks the payment's provider (with `metadata.keel_refund_id`),
and the answer comes back as Stripe `refund.*` / `charge.refunded` events, which move the
refund to `succeeded` or `failed` (idempotent: a status it already has changes nothing). For
a `manual` payment nothing is called: an operator confirms what left the bank.

Pending and succeeded refunds, plus lost disputes, never exceed the payment: the check runs
under the payment's row lock. Locks are always taken invoice -> payment -> refund, the order
credit notes use too. The invoice's `amount_refunded` follows in the same transaction."""

from __future__ import annotations

import logging
import uuid
from typing import Any, get_args

from sqlalchemy import func, select

from modules.billing.contracts import (
    REFUND_CREATED,
    REFUND_UPDATED,
    RefundDTO,
    RefundReason,
    RefundStatus,
)
from modules.billing.models import Dispute, Invoice, Payment, Refund
from platform_core.core.errors import Conflict, InvalidRequest, NotFound
from platform_core.messaging.events import Event, Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of

log = logging.getLogger(__name__)

COUNTING = ("pending", "requires_action", "succeeded")  # held against the payment
OPEN_DISPUTE = ("warning_needs_response", "warning_under_review", "needs_response", "under_review")
_NEXT: dict[str, tuple[str, ...]] = {  # where each status may go (Stripe: a succeeded refund may still fail)
    "pending": ("requires_action", "succeeded", "failed", "canceled"),
    "requires_action": ("pending", "succeeded", "failed", "canceled"),
    "succeeded": ("failed",),
    "failed": (),
    "canceled": (),
}
REASONS: tuple[str, ...] = get_args(RefundReason)
STATUSES: tuple[str, ...] = get_args(RefundStatus)


def refund_dto(r: Refund, payment: Payment, previous_status: str | None = None) -> RefundDTO:
    return RefundDTO(
        id=r.id,
        org_id=r.org_id,
        account_id=r.account_id,
        payment_id=r.payment_id,
        invoice_id=r.invoice_id,
        credit_note_id=r.credit_note_id,
        provider=r.provider,
        provider_payment_id=payment.provider_payment_id,
        provider_refund_id=r.provider_refund_id,
        amount=r.amount,
        currency=r.currency,
        reason=r.reason,  # type: ignore[arg-type]
        status=r.status,  # type: ignore[arg-type]
        previous_status=previous_status,  # type: ignore[arg-type]
        failure_reason=r.failure_reason,
        created_at=r.created_at,
    )


async def _lock_invoice(uow: UnitOfWork, invoice_id: uuid.UUID | None) -> Invoice | None:
    if invoice_id is None:
        return None
    return await uow.session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _lock_payment(uow: UnitOfWork, payment_id: uuid.UUID) -> Payment:
    return await uow.session.scalar(  # type: ignore[return-value]
        select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def refundable(uow: UnitOfWork, payment: Payment) -> int:
    """What may still be refunded of a payment (call with the payment locked)."""
    refunded = await uow.session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment.id, Refund.status.in_(COUNTING)
        )
    )
    lost = await uow.session.scalar(
        select(func.coalesce(func.sum(Dispute.amount), 0)).where(
            Dispute.payment_id == payment.id, Dispute.status == "lost"
        )
    )
    return payment.amount - int(refunded or 0) - int(lost or 0)


async def sync_invoice_refunded(uow: UnitOfWork, invoice: Invoice) -> None:
    """`amount_refunded` = pending and succeeded refunds of the payments that settled it
    (bounded by what it was paid: an overpayment's refund is not the invoice's)."""
    refunded = await uow.session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0))
        .join(Payment, Payment.id == Refund.payment_id)
        .where(Payment.invoice_id == invoice.id, Payment.status == "succeeded", Refund.status.in_(COUNTING))
    )
    amount = min(int(refunded or 0), invoice.amount_paid)
    if invoice.amount_refunded != amount:
        invoice.amount_refunded = amount
        await uow.session.flush()


async def create_refund(
    uow: UnitOfWork,
    org_id: uuid.UUID | None,
    payment_id: uuid.UUID,
    *,
    amount: int | None,
    reason: str,
    credit_note_id: uuid.UUID | None = None,
) -> RefundDTO:
    """Refund `amount` (None: everything still refundable) of a payment of `org_id` (None:
    the caller already checked the payment's organization)."""
    in_org = [Payment.org_id == org_id] if org_id is not None else []
    head = (
        await uow.session.execute(select(Payment.invoice_id).where(Payment.id == payment_id, *in_org))
    ).first()
    if head is None:
        raise NotFound(f"payment {payment_id} does not exist", code="payment_not_found")
    invoice = await _lock_invoice(uow, head.invoice_id)
    payment = await _lock_payment(uow, payment_id)
    open_dispute = await uow.session.scalar(
        select(Dispute.id).where(Dispute.payment_id == payment.id, Dispute.status.in_(OPEN_DISPUTE)).limit(1)
    )
    if open_dispute is not None:
        raise Conflict(
            f"payment {payment_id} is disputed: the dispute returns the money or not",
            code="payment_disputed",
        )
    available = await refundable(uow, payment)
    if available <= 0:
        raise Conflict(f"payment {payment_id} is already fully refunded", code="payment_fully_refunded")
    if amount is None:
        amount = available
    if amount > available:
        raise Conflict(
            f"{amount} exceeds the {available} {payment.currency} still refundable of payment {payment_id}",
            code="refund_exceeds_payment",
        )
    refund = Refund(
        org_id=payment.org_id,
        account_id=payment.account_id,
        payment_id=payment.id,
        invoice_id=payment.invoice_id if payment.status == "succeeded" else None,
        credit_note_id=credit_note_id,
        provider=payment.provider,
        amount=amount,
        currency=payment.currency,
        reason=reason,
        status="pending",
        created_by=uow.actor.id,
    )
    uow.session.add(refund)
    await uow.session.flush()
    await uow.session.refresh(refund)
    if invoice is not None and payment.status == "succeeded":
        await sync_invoice_refunded(uow, invoice)
    dto = refund_dto(refund, payment)
    await _announce(uow, REFUND_CREATED, refund, dto)
    return dto


async def _announce(uow: UnitOfWork, event_type: str, refund: Refund, dto: RefundDTO) -> None:
    await uow.emit(
        event_type,
        subject=Subject(type="refund", id=str(refund.id), name=refund.provider_refund_id),
        data=dto,
        org_id=refund.org_id,
    )


async def _move(
    uow: UnitOfWork,
    refund_id: uuid.UUID,
    status: str,
    *,
    provider_refund_id: str | None = None,
    failure_reason: str | None = None,
    previous: str | None = None,
) -> RefundDTO:
    """Move a refund to `status` under the invoice -> payment -> refund locks; a status it
    already has, or one it cannot reach any more, changes nothing."""
    head = await uow.session.get(Refund, refund_id)
    if head is None:
        raise NotFound(f"refund {refund_id} does not exist", code="refund_not_found")
    invoice = await _lock_invoice(uow, head.invoice_id)
    payment = await _lock_payment(uow, head.payment_id)
    refund = await uow.session.scalar(
        select(Refund)
        .where(Refund.id == refund_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert refund is not None
    if provider_refund_id is not None and refund.provider_refund_id is None:
        refund.provider_refund_id = provider_refund_id
    was = refund.status
    if status != was and status in _NEXT[was]:
        refund.status = status
        if status in ("failed", "canceled"):
            refund.failure_reason = failure_reason or refund.failure_reason
    await uow.session.flush()
    if refund.status == was:
        return refund_dto(refund, payment)
    await uow.session.refresh(refund)
    if invoice is not None:
        await sync_invoice_refunded(uow, invoice)
    dto = refund_dto(refund, payment, previous_status=previous if previous is not None else was)
    await _announce(uow, REFUND_UPDATED, refund, dto)
    return dto


async def confirm_manual(uow: UnitOfWork, refund_id: uuid.UUID, *, succeeded: bool) -> RefundDTO:
    """An operator records that a manual refund left the bank (or could not)."""
    refund = await uow.session.get(Refund, refund_id)
    if refund is None:
        raise NotFound(f"refund {refund_id} does not exist", code="refund_not_found")
    if refund.provider != "manual":
        raise Conflict(
            f"refund {refund_id} goes through {refund.provider}, which reports its outcome",
            code="refund_not_manual",
        )
    target = "succeeded" if succeeded else "failed"
    if refund.status != target and target not in _NEXT[refund.status]:
        raise Conflict(f"refund {refund_id} is {refund.status}", code=f"refund_{refund.status}")
    return await _move(
        uow, refund_id, target, failure_reason=None if succeeded else "recorded by an operator"
    )


# --- the provider's answer (Stripe `refund.*` and `charge.refunded` events) -------------------


def _str(value: Any) -> str | None:
    if isinstance(value, dict):  # an expanded object
        value = value.get("id")
    return value if isinstance(value, str) and value else None


async def apply_stripe_refund(
    uow: UnitOfWork, obj: dict[str, Any], payment_intent: str | None = None
) -> None:
    """One Stripe Refund object: matched by its id, else by `metadata.keel_refund_id`; a
    refund made outside Keel (the Stripe dashboard) of a payment Keel knows is recorded. A
    refund Stripe refused to create has no id (the provider relay reports it `failed`)."""
    refund_id, status, amount = _str(obj.get("id")), obj.get("status"), obj.get("amount")
    if status not in STATUSES or not isinstance(amount, int) or amount <= 0:
        raise InvalidRequest("a refund needs a positive amount and a known status")
    failure = obj.get("failure_reason") if isinstance(obj.get("failure_reason"), str) else None
    known = (
        await uow.session.scalar(
            select(Refund.id).where(Refund.provider == "stripe", Refund.provider_refund_id == refund_id)
        )
        if refund_id is not None
        else None
    )
    if known is None:
        metadata = obj.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        try:
            keel_id = uuid.UUID(str(metadata.get("keel_refund_id", "")))
        except ValueError:
            keel_id = None
        if keel_id is not None:
            known = await uow.session.scalar(
                select(Refund.id).where(
                    Refund.id == keel_id, Refund.provider == "stripe", Refund.provider_refund_id.is_(None)
                )
            )
    if known is not None:
        await _move(uow, known, status, provider_refund_id=refund_id, failure_reason=failure)
    elif refund_id is not None:
        await _record_external(uow, obj, refund_id, status, amount, failure, payment_intent)
    else:
        log.warning("a stripe refund without id matches no Keel refund: ignored")


async def _record_external(
    uow: UnitOfWork,
    obj: dict[str, Any],
    refund_id: str,
    status: str,
    amount: int,
    failure: str | None,
    payment_intent: str | None,
) -> None:
    intent = _str(obj.get("payment_intent")) or payment_intent
    payment_id = await uow.session.scalar(
        select(Payment.id).where(Payment.provider == "stripe", Payment.provider_payment_id == intent)
    )
    if payment_id is None:
        log.warning("stripe refund %s of a payment Keel does not know (%s): ignored", refund_id, intent)
        return
    head = await uow.session.get_one(Payment, payment_id)
    invoice = await _lock_invoice(uow, head.invoice_id)
    payment = await _lock_payment(uow, payment_id)
    again = await uow.session.scalar(  # recorded meanwhile (the lock waited for it)
        select(Refund.id).where(Refund.provider == "stripe", Refund.provider_refund_id == refund_id)
    )
    if again is not None:
        await _move(uow, again, status, provider_refund_id=refund_id, failure_reason=failure)
        return
    currency = obj.get("currency")
    reason = obj.get("reason") if obj.get("reason") in REASONS else None
    refund = Refund(
        org_id=payment.org_id,
        account_id=payment.account_id,
        payment_id=payment.id,
        invoice_id=payment.invoice_id if payment.status == "succeeded" else None,
        provider="stripe",
        provider_refund_id=refund_id,
        amount=amount,
        currency=currency.upper() if isinstance(currency, str) else payment.currency,
        reason=reason,
        status=status,
        failure_reason=failure,
    )
    uow.session.add(refund)
    await uow.session.flush()
    await uow.session.refresh(refund)
    if invoice is not None:
        await sync_invoice_refunded(uow, invoice)
    # `updated`, not `created`: `created` asks the provider for a refund, and this one exists
    await _announce(uow, REFUND_UPDATED, refund, refund_dto(refund, payment))


def _object(event: Event) -> dict[str, Any]:
    obj = ((event.data.get("payload") or {}).get("data") or {}).get("object")
    if not isinstance(obj, dict):
        raise InvalidRequest("the event carries no data.object")
    return obj


async def on_stripe_refund(uow: UnitOfWork, event: Event) -> None:
    """`refund.created`, `refund.updated`, `refund.failed`, `charge.refund.updated`."""
    await apply_stripe_refund(uow, _object(event))


async def on_stripe_charge_refunded(uow: UnitOfWork, event: Event) -> None:
    """`charge.refunded`: the charge lists its refunds (API versions that still embed them)."""
    charge = _object(event)
    refunds = charge.get("refunds")
    for obj in (refunds.get("data") if isinstance(refunds, dict) else None) or []:
        if isinstance(obj, dict):
            await apply_stripe_refund(uow, obj, payment_intent=_str(charge.get("payment_intent")))


# --- reading ---------------------------------------------------------------------------------


async def list_refunds(
    uow: UnitOfWork, org_id: uuid.UUID, payment_id: uuid.UUID | None = None, *, limit: int, cursor: str | None
) -> Page[RefundDTO]:
    query = (
        select(Refund, Payment).join(Payment, Payment.id == Refund.payment_id).where(Refund.org_id == org_id)
    )
    if payment_id is not None:
        if (
            await uow.session.scalar(
                select(Payment.id).where(Payment.id == payment_id, Payment.org_id == org_id)
            )
            is None
        ):
            raise NotFound(f"payment {payment_id} does not exist", code="payment_not_found")
        query = query.where(Refund.payment_id == payment_id)
    rows = list(await uow.session.execute(keyset(query, [Refund.id.expression], cursor=cursor, limit=limit)))
    return page_of(rows, limit, lambda row: [str(row[0].id)], lambda row: refund_dto(*row))
