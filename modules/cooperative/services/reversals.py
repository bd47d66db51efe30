"""Negative patronage: what a member got back is not a contribution. Each is recorded once
per source (replays change nothing), in the fiscal year it happened:
- a refund, when it succeeds (`billing.refund.updated`); given back if it fails afterwards;
- the credited part of a paid invoice (`billing.credit_note.created`: its `credit_amount`;
  its `refund_amount` is a refund and counts as one); given back when the note is voided;
- a lost dispute (`billing.dispute.*` reaching `lost`).
So per patron: patronage = paid - refunded - credited - lost disputes."""

from __future__ import annotations

import msgspec
from sqlalchemy import select

from modules.billing.contracts import CreditNoteDTO, DisputeDTO, RefundDTO
from modules.cooperative.models import PatronageEvent
from modules.cooperative.services.patronage import record
from platform_core.messaging.events import Event
from platform_core.messaging.uow import UnitOfWork


async def on_refund_updated(uow: UnitOfWork, event: Event) -> None:
    refund = msgspec.convert(event.data, RefundDTO)
    if event.org_id is None or refund.account_id is None:
        return  # a payment of no known member
    common = {"account_id": refund.account_id, "source_id": refund.id, "currency": refund.currency}
    if refund.status == "succeeded":
        await record(uow, event, source_type="refund", amount=-refund.amount, **common)  # type: ignore[arg-type]
    elif refund.status == "failed" and await _recorded(uow, "refund", refund.id):
        await record(uow, event, source_type="refund_reversed", amount=refund.amount, **common)  # type: ignore[arg-type]


async def on_credit_note_created(uow: UnitOfWork, event: Event) -> None:
    note = msgspec.convert(event.data, CreditNoteDTO)
    if note.invoice_paid and note.credit_amount > 0:
        await record(
            uow,
            event,
            account_id=note.account_id,
            source_type="credit_note",
            source_id=note.id,
            amount=-note.credit_amount,
            currency=note.currency,
        )


async def on_credit_note_voided(uow: UnitOfWork, event: Event) -> None:
    note = msgspec.convert(event.data, CreditNoteDTO)
    if await _recorded(uow, "credit_note", note.id):
        await record(
            uow,
            event,
            account_id=note.account_id,
            source_type="credit_note_voided",
            source_id=note.id,
            amount=note.credit_amount,
            currency=note.currency,
        )


async def on_dispute(uow: UnitOfWork, event: Event) -> None:
    dispute = msgspec.convert(event.data, DisputeDTO)
    if (
        dispute.status == "lost"
        and dispute.account_id is not None
        and event.org_id is not None
        and dispute.amount
    ):
        await record(
            uow,
            event,
            account_id=dispute.account_id,
            source_type="dispute_lost",
            source_id=dispute.id,
            amount=-dispute.amount,
            currency=dispute.currency,
        )


async def _recorded(uow: UnitOfWork, source_type: str, source_id: object) -> bool:
    found = await uow.session.scalar(
        select(PatronageEvent.id).where(
            PatronageEvent.source_type == source_type, PatronageEvent.source_id == source_id
        )
    )
    return found is not None
