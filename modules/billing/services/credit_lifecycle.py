"""What happens to credit grants with time and with their invoices: expiry (the job
`billing.expire_credit_grants`) and the credit a voided invoice gives back."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from modules.billing.contracts import CREDIT_GRANT_EXPIRED
from modules.billing.models.credit_grants import CreditGrant, CreditTransaction
from modules.billing.services.credit_grants import announce, grant_dto, ledger_row, remaining_of
from platform_core.core.clock import utcnow
from platform_core.core.ids import uuid7
from platform_core.messaging.events import Event
from platform_core.messaging.uow import UnitOfWork

EXPIRE_BATCH = 200


async def on_invoice_voided(uow: UnitOfWork, event: Event) -> None:
    """A voided invoice gives back the credit it used (`restored` rows), to grants that are
    neither voided nor expired: credit that lapsed meanwhile stays spent."""
    invoice_id = uuid.UUID(event.subject.id)
    applied = list(
        await uow.session.execute(
            select(CreditTransaction.grant_id, CreditTransaction.amount).where(
                CreditTransaction.invoice_id == invoice_id, CreditTransaction.kind == "applied"
            )
        )
    )
    if not applied:
        return
    grants = {
        g.id: g
        for g in await uow.session.scalars(
            select(CreditGrant)
            .where(CreditGrant.id.in_([grant_id for grant_id, _ in applied]))
            .order_by(CreditGrant.id)
            .with_for_update()
        )
    }
    now = utcnow()
    for grant_id, amount in applied:
        grant = grants[grant_id]
        if (
            grant.voided_at is None
            and grant.expired_at is None
            and (grant.expires_at is None or grant.expires_at > now)
        ):
            await uow.session.execute(
                insert(CreditTransaction.__table__)  # type: ignore[arg-type]
                .values(
                    id=uuid7(),
                    grant_id=grant.id,
                    org_id=grant.org_id,
                    kind="restored",
                    amount=-amount,
                    invoice_id=invoice_id,
                    created_at=now,
                )
                .on_conflict_do_nothing()
            )


async def expire_due(uow: UnitOfWork) -> int:
    """Expire up to `EXPIRE_BATCH` grants whose `expires_at` passed: an `expired` ledger row
    takes what is left (once per grant: a unique index and `expired_at`). Returns how many."""
    now = utcnow()
    due = list(
        await uow.session.scalars(
            select(CreditGrant)
            .where(
                CreditGrant.expires_at <= now,
                CreditGrant.voided_at.is_(None),
                CreditGrant.expired_at.is_(None),
            )
            .order_by(CreditGrant.expires_at, CreditGrant.id)
            .limit(EXPIRE_BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    remaining = await remaining_of(uow, (g.id for g in due))
    for grant in due:
        if remaining[grant.id] > 0:
            uow.session.add(ledger_row(grant, "expired", -remaining[grant.id]))
        grant.expired_at = now
    await uow.session.flush()
    for grant in due:
        await announce(uow, CREDIT_GRANT_EXPIRED, grant_dto(grant, 0))
    return len(due)
