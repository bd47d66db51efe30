"""Patronage reconciles with billing: per member account and currency, the sum of its
patronage events equals billing's paid - refunded - credited (paid invoices) - lost disputes
(`billing.api.account_nets`, read in the caller's snapshot). One query: billing's figures go
in as arrays and are fully outer-joined with the patronage sums, so an account missing on
either side is reported too."""

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
