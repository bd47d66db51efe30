"""Patronage reconciles with billing: per member account and currency, the sum of its
patronage events equals billing's paid - refunded - credited (paid invoices) - lost disputes
(`billing.api.account_nets`, read in the caller's snapshot). One query: billing's figures go
in as arrays and are fully outer-joined with the patronage sums, so an account missing on
either side is reported too.

Approved allocations (`check_allocations`, run by `check_patronage`): each one's rows add up
exactly to its surplus and its total patronage (`allocations_sum`), and still equal each
patron's net patronage in its fiscal year and currency (`allocation_matches_patronage`: an
event counted after the approval would have had to land in a later year)."""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger, Text, Uuid

from modules.billing import api as billing_api
from modules.billing.contracts import Violation

_PATRONAGE_VS_BILLING = text(
    """
WITH billed AS (
    SELECT * FROM unnest(:accounts, :orgs, :currencies, :nets) AS b(account_id, org_id, currency, net)
), patronage AS (
    SELECT p.account_id, p.org_id, e.currency, sum(e.amount) AS amount
      FROM cooperative.patronage_events e JOIN cooperative.patrons p ON p.id = e.patron_id
     GROUP BY p.account_id, p.org_id, e.currency
)
SELECT coalesce(b.account_id, c.account_id) AS account_id, coalesce(b.org_id, c.org_id) AS org_id,
       coalesce(b.currency, c.currency) AS currency, coalesce(b.net, 0) AS billed,
       coalesce(c.amount, 0) AS patronage
  FROM billed b FULL JOIN patronage c ON c.account_id = b.account_id AND c.currency = b.currency
 WHERE coalesce(b.net, 0) <> coalesce(c.amount, 0)
 ORDER BY 1, 3
"""
).bindparams(
    bindparam("accounts", type_=ARRAY(Uuid)),
    bindparam("orgs", type_=ARRAY(Uuid)),
    bindparam("currencies", type_=ARRAY(Text)),
    bindparam("nets", type_=ARRAY(BigInteger)),
)


async def check_patronage(session: AsyncSession) -> list[Violation]:
    return await _patronage_vs_billing(session) + await check_allocations(session)


async def _patronage_vs_billing(session: AsyncSession) -> list[Violation]:
    nets = await billing_api.account_nets(session)
    rows = await session.execute(
        _PATRONAGE_VS_BILLING,
        {
            "accounts": [n.account_id for n in nets],
            "orgs": [n.org_id for n in nets],
            "currencies": [n.currency for n in nets],
            "nets": [n.net for n in nets],
        },
    )
    return [
        Violation(
            invariant="patronage_matches_billing",
            subject_type="billing_account",
            subject_id=str(r.account_id),
            org_id=r.org_id,
            detail=(
                f"patronage {r.patronage} {r.currency}, but billing says paid - refunded - credited"
                f" - lost disputes = {r.billed}"
            ),
        )
        for r in rows
    ]


_APPROVED = (
    "SELECT id, fiscal_year, currency, surplus, total_patronage"
    " FROM cooperative.allocations WHERE status = 'approved'"
)
_ALLOCATION_SUMS = text(
    f"""
WITH approved AS ({_APPROVED})
SELECT a.id, a.fiscal_year, a.currency, a.surplus, a.total_patronage,
       coalesce(sum(r.amount), 0) AS amount, coalesce(sum(r.patronage), 0) AS patronage
  FROM approved a LEFT JOIN cooperative.allocation_rows r ON r.allocation_id = a.id
 GROUP BY a.id, a.fiscal_year, a.currency, a.surplus, a.total_patronage
HAVING coalesce(sum(r.amount), 0) <> a.surplus OR coalesce(sum(r.patronage), 0) <> a.total_patronage
 ORDER BY a.id
"""
)
_ALLOCATIONS_VS_PATRONAGE = text(
    f"""
WITH approved AS ({_APPROVED}),
bases AS (
    SELECT a.id AS allocation_id, e.patron_id, sum(e.amount) AS patronage
      FROM approved a
      JOIN cooperative.patronage_events e ON e.fiscal_year = a.fiscal_year AND e.currency = a.currency
     GROUP BY a.id, e.patron_id
    HAVING sum(e.amount) > 0
), allocated AS (
    SELECT r.allocation_id, r.patron_id, r.patronage
      FROM cooperative.allocation_rows r JOIN approved a ON a.id = r.allocation_id
)
SELECT coalesce(b.allocation_id, r.allocation_id) AS allocation_id, p.org_id, p.member_number,
       coalesce(r.patronage, 0) AS allocated, coalesce(b.patronage, 0) AS patronage
  FROM bases b
  FULL JOIN allocated r ON r.allocation_id = b.allocation_id AND r.patron_id = b.patron_id
  JOIN cooperative.patrons p ON p.id = coalesce(b.patron_id, r.patron_id)
 WHERE coalesce(r.patronage, 0) <> coalesce(b.patronage, 0)
 ORDER BY 1, 3
"""
)


async def check_allocations(session: AsyncSession) -> list[Violation]:
    sums = [
        Violation(
            invariant="allocations_sum",
            subject_type="allocation",
            subject_id=str(r.id),
            org_id=None,
            detail=(
                f"{r.fiscal_year} {r.currency}: rows add up to {r.amount} (patronage {r.patronage}),"
                f" the allocation says {r.surplus} (patronage {r.total_patronage})"
            ),
        )
        for r in await session.execute(_ALLOCATION_SUMS)
    ]
    drifted = [
        Violation(
            invariant="allocation_matches_patronage",
            subject_type="allocation",
            subject_id=str(r.allocation_id),
            org_id=r.org_id,
            detail=(
                f"member {r.member_number}: allocated on patronage {r.allocated}, but its patronage"
                f" in that year is {r.patronage}"
            ),
        )
        for r in await session.execute(_ALLOCATIONS_VS_PATRONAGE)
    ]
    return sums + drifted
