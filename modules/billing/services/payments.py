"""Payments reported by a provider: Stripe's `payment_intent.succeeded`, received through
integration's inbound webhooks (`integration.inbound.stripe.payment_intent.succeeded`), settles
the Keel invoice named in the intent's `metadata.keel_invoice_id`.

A payment is recorded once per provider id. It settles an open invoice of the same currency
when it covers the amount due; anything paid beyond that becomes a credit grant of the
account (source `overpayment`, once per payment). A payment that settles nothing (no such
invoice, already settled, another currency, too little) is kept as `unmatched` with the
reason, for an operator."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import insert

from modules.billing.contracts import PAYMENT_RECEIVED, PaymentDTO
from modules.billing.models import Invoice, Payment
from modules.billing.services.credit_grants import grant_credit
from modules.billing.services.invoices import mark_paid
from platform_core.core.errors import InvalidRequest
from platform_core.core.ids import uuid7
from platform_core.messaging.events import Event, Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of


@dataclass(frozen=True)
class ProviderPayment:
    provider: str
    payment_id: str
    amount: int
    currency: str
    invoice_ref: str | None
    received_at: datetime


def from_stripe_intent(payload: dict[str, Any], received_at: datetime) -> ProviderPayment:
    intent = (payload.get("data") or {}).get("object") or {}
    payment_id, amount, currency = intent.get("id"), intent.get("amount_received"), intent.get("currency")
    if (
        not isinstance(payment_id, str)
        or not isinstance(amount, int)
        or amount <= 0
        or not isinstance(currency, str)
    ):
        raise InvalidRequest("a payment_intent needs id, a positive amount_received and currency")
    metadata = intent.get("metadata") or {}
    reference = metadata.get("keel_invoice_id") if isinstance(metadata, dict) else None
    return ProviderPayment("stripe", payment_id, amount, currency.upper(), reference, received_at)


async def _open_invoice(uow: UnitOfWork, reference: str | None) -> tuple[Invoice | None, str | None]:
    try:
        invoice_id = uuid.UUID(reference or "")
    except ValueError:
        return None, "the payment names no Keel invoice"
    invoice = await uow.session.scalar(select(Invoice).where(Invoice.id == invoice_id).with_for_update())
    if invoice is None:
        return None, f"invoice {invoice_id} does not exist"
    return invoice, None


async def record_payment(uow: UnitOfWork, payment: ProviderPayment) -> None:
    invoice, reason = await _open_invoice(uow, payment.invoice_ref)
    if invoice is not None:
        if invoice.status != "open":
            reason = f"invoice {invoice.number} is {invoice.status}"
        elif invoice.currency != payment.currency:
            reason = f"invoice {invoice.number} is in {invoice.currency}, the payment in {payment.currency}"
        elif payment.amount < invoice.amount_due:
            reason = f"{payment.amount} does not cover the {invoice.amount_due} due on {invoice.number}"
    recorded = (
        await uow.session.execute(
            insert(Payment.__table__)  # type: ignore[arg-type]
            .values(
                id=uuid7(),
                org_id=invoice.org_id if invoice else None,
                account_id=invoice.account_id if invoice else None,
                invoice_id=invoice.id if invoice else None,
                provider=payment.provider,
                provider_payment_id=payment.payment_id,
                amount=payment.amount,
                currency=payment.currency,
                status="unmatched" if reason else "succeeded",
                note=reason,
                received_at=payment.received_at,
            )
            .on_conflict_do_nothing(index_elements=["provider", "provider_payment_id"])
            .returning(Payment.__table__.c.id)
        )
    ).scalar_one_or_none()
    if recorded is None:  # the provider told us before
        return
    if invoice is not None and reason is None:
        await mark_paid(uow, invoice.id)
        if payment.amount > invoice.amount_due:
            await grant_credit(
                uow,
                account_id=invoice.account_id,
                amount=payment.amount - invoice.amount_due,
                currency=invoice.currency,
                category="paid",
                description=f"Overpayment of {invoice.number} ({payment.provider} {payment.payment_id})",
                source_type="overpayment",
                source_id=recorded,
            )
    await uow.emit(
        PAYMENT_RECEIVED,
        subject=Subject(type="payment", id=str(recorded), name=payment.payment_id),
        data={
            "provider": payment.provider,
            "amount": payment.amount,
            "currency": payment.currency,
            "invoice_id": str(invoice.id) if invoice else None,
            "matched": reason is None,
            "note": reason,
        },
        org_id=invoice.org_id if invoice else None,
    )


async def on_stripe_payment_succeeded(uow: UnitOfWork, event: Event) -> None:
    await record_payment(uow, from_stripe_intent(event.data["payload"], event.occurred_at))


async def list_unmatched(uow: UnitOfWork, *, limit: int, cursor: str | None) -> Page[PaymentDTO]:
    """Payments that settled nothing, across organizations (operators reconcile them)."""
    return await _page(uow, select(Payment).where(Payment.status == "unmatched"), limit, cursor)


async def list_payments(
    uow: UnitOfWork, org_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[PaymentDTO]:
    return await _page(uow, select(Payment).where(Payment.org_id == org_id), limit, cursor)


async def _page(uow: UnitOfWork, query: Select[Any], limit: int, cursor: str | None) -> Page[PaymentDTO]:
    """Oldest first (ids are time-ordered)."""
    stmt = keyset(query, [Payment.id.expression], cursor=cursor, limit=limit)
    return page_of(list(await uow.session.scalars(stmt)), limit, lambda p: [str(p.id)], _dto)


def _dto(p: Payment) -> PaymentDTO:
    return PaymentDTO(
        id=p.id,
        invoice_id=p.invoice_id,
        provider=p.provider,
        provider_payment_id=p.provider_payment_id,
        amount=p.amount,
        currency=p.currency,
        status=p.status,
        note=p.note,
        received_at=p.received_at,
    )
