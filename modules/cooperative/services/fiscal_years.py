"""Which fiscal year a contribution counts in, and the lock that keeps it consistent with
approvals.

Rule: a patronage event counts in the first fiscal year, from the calendar year (UTC) it
happened in, whose allocation in its currency is not approved. An approved allocation is
never rewritten: a refund, credit note or lost dispute (or a payment) arriving after the
approval reduces (or adds to) the next open year instead.

Recording and approving serialize per currency on one advisory lock: recorders take it
shared (they never wait for each other), an approval takes it exclusive. So an approval
reads every event committed before it, and an event recorded after it sees the approval."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select

from modules.cooperative.models import Allocation
from platform_core.messaging.uow import UnitOfWork

_LOCK_SEED = 34  # hashtextextended's seed: keeps these keys apart from other advisory locks


def _lock_key(currency: str) -> ColumnElement[Any]:
    return func.hashtextextended(f"cooperative.fiscal_years:{currency}", _LOCK_SEED)


def first_open_year(year: int, approved_years: list[int]) -> int:
    """The first year >= `year` that is not in `approved_years` (sorted ascending)."""
    for approved in approved_years:
        if approved == year:
            year += 1
        elif approved > year:
            break
    return year


async def open_fiscal_year(uow: UnitOfWork, currency: str, year: int) -> int:
    """The fiscal year an event of `year` in `currency` counts in (see the module's rule),
    holding the currency's lock shared until the transaction ends."""
    await uow.session.execute(select(func.pg_advisory_xact_lock_shared(_lock_key(currency))))
    approved = await uow.session.scalars(
        select(Allocation.fiscal_year)
        .where(
            Allocation.currency == currency,
            Allocation.status == "approved",
            Allocation.fiscal_year >= year,
        )
        .order_by(Allocation.fiscal_year)
    )
    return first_open_year(year, list(approved))


async def close_fiscal_years(uow: UnitOfWork, currency: str) -> None:
    """Hold the currency's lock exclusively until the transaction ends: recorders already
    holding it have committed, later ones wait and then see what this transaction approved."""
    await uow.session.execute(select(func.pg_advisory_xact_lock(_lock_key(currency))))
