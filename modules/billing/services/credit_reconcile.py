"""The `credit_balance` invariant of `keel billing reconcile` (services/reconcile.py):

- per grant: exactly one `grant` ledger row, of the grant's amount; its balance (the sum of its
  ledger) between 0 and the amount; 0 once voided or expired;
- per invoice: `credit_applied` = what its `applied` rows took, never above its total; what
  `restored` rows gave back never above that, and only for a void invoice."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from modules.billing.contracts import Violation

INVARIANT = "credit_balance"

_GRANTS = text(
    """
WITH ledger AS (
    SELECT grant_id, sum(amount) AS balance,
           coalesce(sum(amount) FILTER (WHERE kind = 'grant'), 0) AS granted,
           count(*) FILTER (WHERE kind = 'grant') AS grant_rows
      FROM billing.credit_transactions GROUP BY grant_id
)
SELECT g.id, g.org_id, g.amount, coalesce(l.balance, 0) AS balance, coalesce(l.granted, 0) AS granted,
       coalesce(l.grant_rows, 0) AS grant_rows, g.voided_at IS NOT NULL OR g.expired_at IS NOT NULL AS closed
  FROM billing.credit_grants g LEFT JOIN ledger l ON l.grant_id = g.id
 WHERE coalesce(l.grant_rows, 0) <> 1 OR l.granted <> g.amount
    OR coalesce(l.balance, 0) NOT BETWEEN 0 AND g.amount
    OR ((g.voided_at IS NOT NULL OR g.expired_at IS NOT NULL) AND l.balance <> 0)
 ORDER BY g.id
"""
)

_INVOICES = text(
    """
WITH used AS (
    SELECT invoice_id,
           coalesce(-sum(amount) FILTER (WHERE kind = 'applied'), 0) AS applied,
           coalesce(sum(amount) FILTER (WHERE kind = 'restored'), 0) AS restored
      FROM billing.credit_transactions WHERE invoice_id IS NOT NULL GROUP BY invoice_id
)
SELECT i.id, i.org_id, i.number, i.status, i.total, i.credit_applied,
       coalesce(u.applied, 0) AS applied, coalesce(u.restored, 0) AS restored
  FROM billing.invoices i LEFT JOIN used u ON u.invoice_id = i.id
 WHERE (i.credit_applied <> 0 OR u.invoice_id IS NOT NULL)
   AND (i.credit_applied <> coalesce(u.applied, 0)
        OR i.credit_applied > greatest(i.total, 0)
        OR coalesce(u.restored, 0) > coalesce(u.applied, 0)
        OR (coalesce(u.restored, 0) > 0 AND i.status <> 'void'))
 ORDER BY i.id
"""
)


async def credit_violations(session: AsyncSession) -> list[Violation]:
    found = [
        Violation(
            invariant=INVARIANT,
            subject_type="credit_grant",
            subject_id=str(r.id),
            org_id=r.org_id,
            detail=(
                f"credit grant of {r.amount}: {r.grant_rows} grant row(s) of {r.granted}, balance"
                f" {r.balance}{' (voided or expired)' if r.closed else ''}"
            ),
        )
        for r in await session.execute(_GRANTS)
    ]
    found += [
        Violation(
            invariant=INVARIANT,
            subject_type="invoice",
            subject_id=str(r.id),
            org_id=r.org_id,
            detail=(
                f"invoice {r.number} ({r.status}, total {r.total}): credit_applied {r.credit_applied},"
                f" applied rows {r.applied}, restored {r.restored}"
            ),
        )
        for r in await session.execute(_INVOICES)
    ]
    return found
