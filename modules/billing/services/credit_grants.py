"""Credit grants (after Stripe's customer credit grants and Lago's wallets): credit an account
spends on its invoices, burnt when an invoice is finalized (`apply_to_invoice`) in the order
services/credit_burn.py states.

A grant's balance is the sum of its ledger (`credit_transactions`, append-only). Every ledger
row is written under the grant's row lock (`SELECT … FOR UPDATE`, grants locked in id order so
two finalizations never deadlock), and an insert trigger refuses a row that would take the
balance below zero or above the grant: two invoices finalizing at once for one account wait for
each other and cannot spend the same credit twice.

Sources grant once: (`source_type`, `source_id`) is unique, so a replayed source (a carried
credit, an overpayment, a credit note, a patronage dividend) returns the grant it made."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol, get_args

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert

from modules.billing.contracts import (
    CREDIT_GRANT_CREATED,
    CREDIT_GRANT_VOIDED,
    CreditCategory,
    CreditGrantDTO,
    CreditSourceType,
)
from modules.billing.models import BillingAccount, Invoice, Price
from modules.billing.models.credit_grants import CreditGrant, CreditTransaction
from modules.billing.services import job_batch
from modules.billing.services.credit_burn import GrantBalance, PayableLine, burn
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound, Unprocessable
from platform_core.core.ids import uuid7
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork

DEFAULT_PRIORITY = 50
_CATEGORIES: tuple[str, ...] = get_args(CreditCategory)
_SOURCES: tuple[str, ...] = get_args(CreditSourceType)


class InvoiceLine(Protocol):
    """What the burn reads of a line (an `InvoiceLineItem` or the pipeline's `Line`)."""

    @property
    def price_id(self) -> uuid.UUID | None: ...
    @property
    def amount(self) -> int: ...
    @property
    def discount_amount(self) -> int: ...


def grant_dto(grant: CreditGrant, remaining: int) -> CreditGrantDTO:
    return CreditGrantDTO(
        id=grant.id,
        org_id=grant.org_id,
        account_id=grant.account_id,
        category=grant.category,  # type: ignore[arg-type]
        amount=grant.amount,
        currency=grant.currency,
        remaining=remaining,
        priority=grant.priority,
        effective_at=grant.effective_at,
        expires_at=grant.expires_at,
        applies_to_price_ids=list(grant.applies_to_price_ids),
        description=grant.description,
        source_type=grant.source_type,  # type: ignore[arg-type]
        source_id=grant.source_id,
        voided_at=grant.voided_at,
        expired_at=grant.expired_at,
        created_at=grant.created_at,
    )


async def remaining_of(uow: UnitOfWork, grant_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Each grant's balance: the sum of its ledger (one grouped query)."""
    ids = list(grant_ids)
    if not ids:
        return {}
    rows = await uow.session.execute(
        select(CreditTransaction.grant_id, func.sum(CreditTransaction.amount))
        .where(CreditTransaction.grant_id.in_(ids))
        .group_by(CreditTransaction.grant_id)
    )
    found = {grant_id: int(total) for grant_id, total in rows}
    return {grant_id: found.get(grant_id, 0) for grant_id in ids}


def ledger_row(
    grant: CreditGrant, kind: str, amount: int, invoice_id: uuid.UUID | None = None
) -> CreditTransaction:
    return CreditTransaction(
        grant_id=grant.id,
        org_id=grant.org_id,
        kind=kind,
        amount=amount,
        invoice_id=invoice_id,
        created_at=utcnow(),
    )


async def announce(uow: UnitOfWork, event_type: str, dto: CreditGrantDTO) -> None:
    await uow.emit(
        event_type,
        subject=Subject(type="credit_grant", id=str(dto.id), name=dto.description[:200]),
        data=dto,
        org_id=dto.org_id,
    )


async def _check_prices(uow: UnitOfWork, price_ids: Sequence[uuid.UUID], currency: str) -> None:
    if not price_ids:
        return
    rows = await uow.session.execute(select(Price.id, Price.currency).where(Price.id.in_(price_ids)))
    found: dict[uuid.UUID, str] = {pid: cur for pid, cur in rows}
    for price_id in price_ids:
        if price_id not in found:
            raise Unprocessable(f"price {price_id} does not exist", code="credit_price_not_found")
        if found[price_id] != currency:
            raise Unprocessable(
                f"price {price_id} is in {found[price_id]}, the grant in {currency}",
                code="credit_price_currency",
            )


async def create_grant(
    uow: UnitOfWork,
    account: BillingAccount,
    *,
    amount: int,
    currency: str,
    category: str,
    description: str,
    source_type: str,
    source_id: uuid.UUID | None = None,
    priority: int = DEFAULT_PRIORITY,
    effective_at: datetime | None = None,
    expires_at: datetime | None = None,
    applies_to_price_ids: Sequence[uuid.UUID] = (),
) -> CreditGrantDTO:
    """Grant credit to `account`, once per source (`source_id` None: the grant is its own
    source, as an operator's is). A replayed source returns the first grant unchanged."""
    if amount <= 0:
        raise Unprocessable(f"a credit grant's amount must be positive, not {amount}", code="credit_amount")
    if category not in _CATEGORIES:
        raise Unprocessable(f"category must be one of {', '.join(_CATEGORIES)}", code="credit_category")
    if source_type not in _SOURCES:
        raise Unprocessable(f"source_type must be one of {', '.join(_SOURCES)}", code="credit_source_type")
    if currency != account.currency:
        raise Unprocessable(
            f"account {account.id} is billed in {account.currency}, not {currency}",
            code="credit_currency_mismatch",
        )
    if not 0 <= priority <= 100:
        raise Unprocessable("priority is between 0 and 100", code="credit_priority")
    now = utcnow()
    effective_at = effective_at or now
    if expires_at is not None and expires_at <= max(effective_at, now):
        raise Unprocessable("expires_at must be after effective_at and now", code="credit_grant_window")
    prices = list(dict.fromkeys(applies_to_price_ids))
    await _check_prices(uow, prices, currency)
    grant_id = uuid7()
    created = (
        await uow.session.execute(
            insert(CreditGrant.__table__)  # type: ignore[arg-type]
            .values(
                id=grant_id,
                org_id=account.org_id,
                account_id=account.id,
                category=category,
                amount=amount,
                currency=currency,
                priority=priority,
                effective_at=effective_at,
                expires_at=expires_at,
                applies_to_price_ids=prices,
                description=description,
                source_type=source_type,
                source_id=source_id or grant_id,
                created_by=uow.actor.id,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["source_type", "source_id"])
            .returning(CreditGrant.__table__.c.id)
        )
    ).scalar_one_or_none()
    if created is None:  # this source granted before
        existing = await uow.session.scalar(
            select(CreditGrant).where(
                CreditGrant.source_type == source_type, CreditGrant.source_id == source_id
            )
        )
        assert existing is not None
        if existing.account_id != account.id:
            raise Conflict(
                f"{source_type} {source_id} already granted credit to another account",
                code="credit_source_granted",
            )
        return grant_dto(existing, (await remaining_of(uow, [existing.id]))[existing.id])
    grant = await uow.session.get_one(CreditGrant, created)
    uow.session.add(ledger_row(grant, "grant", amount))
    await uow.session.flush()
    dto = grant_dto(grant, amount)
    await announce(uow, CREDIT_GRANT_CREATED, dto)
    return dto


async def grant_credit(
    uow: UnitOfWork,
    *,
    account_id: uuid.UUID,
    amount: int,
    currency: str,
    category: str,
    description: str,
    source_type: str,
    source_id: uuid.UUID,
    expires_at: datetime | None = None,
) -> CreditGrantDTO:
    """Grant credit to a billing account, effective now, at the default priority, for any
    price; idempotent by (`source_type`, `source_id`): a replay returns the first grant."""
    account = await uow.session.get(BillingAccount, account_id)
    if account is None:
        raise NotFound(f"billing account {account_id} does not exist", code="billing_account_not_found")
    return await create_grant(
        uow,
        account,
        amount=amount,
        currency=currency,
        category=category,
        description=description,
        source_type=source_type,
        source_id=source_id,
        expires_at=expires_at,
    )


async def _locked_grant(
    uow: UnitOfWork, org_id: uuid.UUID, account_id: uuid.UUID, grant_id: uuid.UUID
) -> CreditGrant:
    grant = await uow.session.scalar(
        select(CreditGrant)
        .where(CreditGrant.id == grant_id, CreditGrant.org_id == org_id, CreditGrant.account_id == account_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if grant is None:
        raise NotFound(f"credit grant {grant_id} does not exist", code="credit_grant_not_found")
    return grant


async def void_grant(
    uow: UnitOfWork, org_id: uuid.UUID, account_id: uuid.UUID, grant_id: uuid.UUID
) -> CreditGrantDTO:
    """What is left of the grant is taken back (a `voided` ledger row); what invoices used
    stays used. Voiding a voided grant changes nothing."""
    grant = await _locked_grant(uow, org_id, account_id, grant_id)
    return await _void_locked(uow, grant)


async def _void_locked(uow: UnitOfWork, grant: CreditGrant) -> CreditGrantDTO:
    remaining = (await remaining_of(uow, [grant.id]))[grant.id]
    if grant.voided_at is not None:
        return grant_dto(grant, remaining)
    if remaining > 0:
        uow.session.add(ledger_row(grant, "voided", -remaining))
    grant.voided_at = utcnow()
    await uow.session.flush()
    dto = grant_dto(grant, 0)
    await announce(uow, CREDIT_GRANT_VOIDED, dto)
    return dto


async def void_source_grant(
    uow: UnitOfWork, source_type: str, source_id: uuid.UUID, *, used_code: str = "credit_grant_used"
) -> CreditGrantDTO | None:
    """Void the grant a source made, if it made one and none of it was used; 409 (`used_code`)
    when an invoice used some of it: the source then stands, as it was spent."""
    grant = await uow.session.scalar(
        select(CreditGrant)
        .where(CreditGrant.source_type == source_type, CreditGrant.source_id == source_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if grant is None:
        return None
    remaining = (await remaining_of(uow, [grant.id]))[grant.id]
    if grant.voided_at is None and remaining < grant.amount:
        raise Conflict(
            f"{grant.amount - remaining} {grant.currency} of credit grant {grant.id} was already used",
            code=used_code,
        )
    return await _void_locked(uow, grant)


def payable_lines(lines: Iterable[InvoiceLine]) -> list[PayableLine]:
    return [PayableLine(price_id=line.price_id, amount=line.amount - line.discount_amount) for line in lines]


def balance_of(grant: CreditGrant, remaining: int) -> GrantBalance:
    return GrantBalance(
        id=grant.id,
        currency=grant.currency,
        remaining=remaining,
        priority=grant.priority,
        effective_at=grant.effective_at,
        expires_at=grant.expires_at,
        created_at=grant.created_at,
        applies_to=frozenset(grant.applies_to_price_ids),
    )


def _live_grants(account_id: uuid.UUID, currency: str, at: datetime) -> Select[CreditGrant]:
    return (
        select(CreditGrant)
        .where(
            CreditGrant.account_id == account_id,
            CreditGrant.currency == currency,
            CreditGrant.voided_at.is_(None),
            CreditGrant.expired_at.is_(None),
            CreditGrant.effective_at <= at,
        )
        .order_by(CreditGrant.id)
    )


async def apply_to_invoice(
    uow: UnitOfWork, account: BillingAccount, invoice: Invoice, lines: Sequence[InvoiceLine]
) -> int:
    """Burn the account's grants on `invoice` (being finalized, its total set): one `applied`
    ledger row per grant that pays, written under the grants' row locks. Returns the minor
    units applied, never more than the invoice's total."""
    at = invoice.finalized_at or utcnow()
    batch = job_batch.current(uow)
    if batch is not None and batch.grants is not None and account.id in batch.account_ids - batch.granted:
        grants = [  # what _live_grants selects, from the batch's locked rows
            g
            for g in batch.grants.get(account.id, ())
            if g.currency == invoice.currency
            and g.voided_at is None
            and g.expired_at is None
            and g.effective_at <= at
        ]
    else:
        stmt = _live_grants(account.id, invoice.currency, at).with_for_update()
        grants = list(await uow.session.scalars(stmt))
    if not grants or invoice.total <= 0:
        return 0
    by_id = {g.id: g for g in grants}
    remaining = await remaining_of(uow, by_id)
    paid = burn(
        [balance_of(g, remaining[g.id]) for g in grants],
        payable_lines(lines),
        currency=invoice.currency,
        total=invoice.total,
        at=at,
    )
    uow.session.add_all(
        ledger_row(by_id[grant_id], "applied", -amount, invoice.id) for grant_id, amount in paid
    )
    await uow.session.flush()
    return sum(amount for _, amount in paid)


async def available_for(
    uow: UnitOfWork,
    account: BillingAccount,
    lines: Sequence[InvoiceLine],
    *,
    total: int | None = None,
    at: datetime | None = None,
) -> int:
    """What finalizing an invoice of `lines` at `at` (default now) would apply, without writing
    or locking anything. `total` (tax included) defaults to the lines' amounts after discount."""
    at = at or utcnow()
    payable = payable_lines(lines)
    invoice_total = sum(line.amount for line in payable) if total is None else total
    grants = list(await uow.session.scalars(_live_grants(account.id, account.currency, at)))
    if not grants or invoice_total <= 0:
        return 0
    remaining = await remaining_of(uow, (g.id for g in grants))
    paid = burn(
        [balance_of(g, remaining[g.id]) for g in grants],
        payable,
        currency=account.currency,
        total=invoice_total,
        at=at,
    )
    return sum(amount for _, amount in paid)
