"""`invoice_tax`, billing's tax invariant for `keel billing reconcile` (services/reconcile.py):
every finalized invoice's `tax` is the sum of its lines' taxes and its `exclusive_tax` the sum
of their exclusive taxes (half-to-even per line, then summed: never recomputed on the sum),
each tax row belongs to a line of its own invoice, and a reverse-charged invoice has only
reverse-charged tax rows. One set-based query over all invoices."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from modules.billing.contracts import Violation

_INVOICE_TAX = text(
    """
WITH taxes AS (
    SELECT t.invoice_id, sum(t.amount) AS tax,
           coalesce(sum(t.amount) FILTER (WHERE NOT t.inclusive), 0) AS exclusive_tax,
           count(*) FILTER (WHERE l.invoice_id IS DISTINCT FROM t.invoice_id) AS foreign_lines,
           count(*) FILTER (WHERE NOT t.reverse_charge) AS charged
      FROM billing.invoice_line_taxes t
      LEFT JOIN billing.invoice_line_items l ON l.id = t.line_id
     GROUP BY t.invoice_id
)
SELECT i.id, i.org_id, i.number, i.tax, i.exclusive_tax, i.reverse_charge,
       coalesce(t.tax, 0) AS line_tax, coalesce(t.exclusive_tax, 0) AS line_exclusive_tax,
       coalesce(t.foreign_lines, 0) AS foreign_lines, coalesce(t.charged, 0) AS charged
  FROM billing.invoices i
  LEFT JOIN taxes t ON t.invoice_id = i.id
 WHERE i.status <> 'draft'
   AND (i.tax <> coalesce(t.tax, 0)
        OR i.exclusive_tax <> coalesce(t.exclusive_tax, 0)
        OR coalesce(t.foreign_lines, 0) > 0
        OR (i.reverse_charge AND coalesce(t.charged, 0) > 0))
 ORDER BY i.id
"""
)


async def tax_violations(session: AsyncSession) -> list[Violation]:
    return [
        Violation(
            invariant="invoice_tax",
            subject_type="invoice",
            subject_id=str(r.id),
            org_id=r.org_id,
            detail=(
                f"invoice {r.number}: tax {r.tax} (lines {r.line_tax}), exclusive tax {r.exclusive_tax}"
                f" (lines {r.line_exclusive_tax}), tax rows on another invoice's lines {r.foreign_lines},"
                f" reverse charge {r.reverse_charge} with {r.charged} charged rows"
            ),
        )
        for r in await session.execute(_INVOICE_TAX)
    ]
