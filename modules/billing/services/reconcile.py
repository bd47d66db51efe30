"""Billing's invariants, checked over every account by set-based queries (`keel billing
reconcile`, modules/reconcile.py): each query returns its violations, named, with the ids and
numbers that disagree. Run them in one REPEATABLE READ transaction so they see one state.

What billing checks itself:
- `refunds_within_paid`: per invoice, refunds (succeeded or still in flight, not made by a
  credit note) + the refunded part of its issued credit notes + lost disputes <= amount paid;
- `invoice_total`: a finalized invoice's subtotal is the sum of its lines, its discount the
  sum of theirs, total = subtotal - discounts + exclusive tax, and amount due = total - credit
  applied - the pre-payment part of its issued credit notes;
- `invoice_credited`: an invoice's amount_credited is the sum of its issued credit notes;
- `invoice_tax` (services/tax_reconcile.py): tax per invoice = the sum of the tax per line;
- `usage_billed_once`, `metered_usage_linked` (services/metered_usage.py): no usage event
  linked to two charges; each metered-usage charge links exactly the events its claim took.

(A refund made at the provider, which Keel records from its events, is announced as
`billing.refund.updated` only — `created` would ask the provider for it — so the audit check
wants at least one such record for it, and exactly one `created` for every other document.)

What other modules check with billing's figures (they sit above billing; billing reads no
other schema): `account_nets` feeds cooperative's patronage check, `money_documents` feeds
audit's "appears once in the audit log" check."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from modules.billing.contracts import (
    CREDIT_NOTE_CREATED,
    DISPUTE_CREATED,
    PAYMENT_RECEIVED,
    REFUND_CREATED,
    REFUND_UPDATED,
    AccountNet,
    MoneyDocument,
    Violation,
)
from modules.billing.services.credit_reconcile import credit_violations
from modules.billing.services.metered_usage import check_usage_billed_once
from modules.billing.services.tax_reconcile import tax_violations

IN_FLIGHT_OR_DONE = "('pending', 'requires_action', 'succeeded')"

_REFUNDS_WITHIN_PAID = text(
    f"""
WITH refunded AS (
    SELECT invoice_id, sum(amount) AS amount FROM billing.refunds
     WHERE invoice_id IS NOT NULL AND credit_note_id IS NULL AND status IN {IN_FLIGHT_OR_DONE}
     GROUP BY invoice_id
), noted AS (
    SELECT invoice_id, sum(refund_amount) AS amount FROM billing.credit_notes
     WHERE status = 'issued' AND refund_amount > 0 GROUP BY invoice_id
), lost AS (
    SELECT coalesce(d.invoice_id, p.invoice_id) AS invoice_id, sum(d.amount) AS amount
      FROM billing.disputes d LEFT JOIN billing.payments p ON p.id = d.payment_id
     WHERE d.status = 'lost' AND coalesce(d.invoice_id, p.invoice_id) IS NOT NULL
     GROUP BY 1
)
SELECT i.id, i.org_id, i.number, i.amount_paid, coalesce(r.amount, 0) AS refunded,
       coalesce(n.amount, 0) AS noted, coalesce(l.amount, 0) AS lost
  FROM billing.invoices i
  LEFT JOIN refunded r ON r.invoice_id = i.id
  LEFT JOIN noted n ON n.invoice_id = i.id
  LEFT JOIN lost l ON l.invoice_id = i.id
 WHERE (r.amount IS NOT NULL OR n.amount IS NOT NULL OR l.amount IS NOT NULL)
   AND coalesce(r.amount, 0) + coalesce(n.amount, 0) + coalesce(l.amount, 0) > i.amount_paid
 ORDER BY i.id
"""
)

_INVOICE_TOTAL = text(
    """
WITH lines AS (
    SELECT invoice_id, sum(amount) AS amount, sum(discount_amount) AS discount
      FROM billing.invoice_line_items GROUP BY invoice_id
), prepaid AS (
    SELECT invoice_id, sum(pre_payment_amount) AS amount FROM billing.credit_notes
     WHERE status = 'issued' GROUP BY invoice_id
)
SELECT i.id, i.org_id, i.number, i.subtotal, i.discount_total, i.credit_applied, i.total, i.amount_due,
       i.exclusive_tax, coalesce(l.amount, 0) AS lines, coalesce(l.discount, 0) AS line_discounts,
       coalesce(p.amount, 0) AS prepaid
  FROM billing.invoices i
  LEFT JOIN lines l ON l.invoice_id = i.id
  LEFT JOIN prepaid p ON p.invoice_id = i.id
 WHERE i.status <> 'draft'
   AND (i.subtotal <> coalesce(l.amount, 0)
        OR i.discount_total <> coalesce(l.discount, 0)
        OR i.total <> coalesce(l.amount, 0) - coalesce(l.discount, 0) + i.exclusive_tax
        OR i.amount_due <> i.total - i.credit_applied - coalesce(p.amount, 0))
 ORDER BY i.id
"""
)

_INVOICE_CREDITED = text(
    """
SELECT i.id, i.org_id, i.number, i.amount_credited, coalesce(n.amount, 0) AS notes
  FROM billing.invoices i
  LEFT JOIN (SELECT invoice_id, sum(amount) AS amount FROM billing.credit_notes
              WHERE status = 'issued' GROUP BY invoice_id) n ON n.invoice_id = i.id
 WHERE i.amount_credited <> coalesce(n.amount, 0)
 ORDER BY i.id
"""
)

# paid invoices - succeeded refunds - the credited part of paid invoices - lost disputes, per
# account and currency: what cooperative's patronage of the account must add up to
_ACCOUNT_NETS = text(
    """
WITH moves AS (
    SELECT account_id, currency, amount_paid AS amount FROM billing.invoices
     WHERE status = 'paid' AND amount_paid > 0
    UNION ALL
    SELECT account_id, currency, -amount FROM billing.refunds
     WHERE status = 'succeeded' AND account_id IS NOT NULL AND org_id IS NOT NULL
    UNION ALL
    SELECT account_id, currency, -credit_amount FROM billing.credit_notes
     WHERE status = 'issued' AND invoice_paid AND credit_amount > 0
    UNION ALL
    SELECT account_id, currency, -amount FROM billing.disputes
     WHERE status = 'lost' AND account_id IS NOT NULL AND org_id IS NOT NULL AND amount > 0
)
SELECT m.account_id, a.org_id, m.currency, sum(m.amount) AS net
  FROM moves m JOIN billing.billing_accounts a ON a.id = m.account_id
 GROUP BY m.account_id, a.org_id, m.currency
 ORDER BY m.account_id, m.currency
"""
)

# a refund Keel asked for was created by someone (an operator, a credit note); one made at the
# provider is recorded from its events with no creator, and announced as `updated` only
_MONEY_DOCUMENTS = text(
    f"""
SELECT 'payment' AS subject_type, id, org_id, '{PAYMENT_RECEIVED}' AS created_event, false AS at_least_once
  FROM billing.payments
UNION ALL
SELECT 'refund', id, org_id,
       CASE WHEN created_by IS NULL THEN '{REFUND_UPDATED}' ELSE '{REFUND_CREATED}' END, created_by IS NULL
  FROM billing.refunds
UNION ALL
SELECT 'credit_note', id, org_id, '{CREDIT_NOTE_CREATED}', false FROM billing.credit_notes
UNION ALL
SELECT 'dispute', id, org_id, '{DISPUTE_CREATED}', false FROM billing.disputes
ORDER BY 1, 2
"""
)


async def check_invariants(session: AsyncSession) -> list[Violation]:
    """Every violation of billing's own invariants, across all accounts."""
    found = [
        Violation(
            invariant="refunds_within_paid",
            subject_type="invoice",
            subject_id=str(r.id),
            org_id=r.org_id,
            detail=(
                f"invoice {r.number}: refunds {r.refunded} + credit note refunds {r.noted}"
                f" + lost disputes {r.lost} exceed the {r.amount_paid} paid"
            ),
        )
        for r in await session.execute(_REFUNDS_WITHIN_PAID)
    ]
    found += [
        Violation(
            invariant="invoice_total",
            subject_type="invoice",
            subject_id=str(r.id),
            org_id=r.org_id,
            detail=(
                f"invoice {r.number}: subtotal {r.subtotal} (lines {r.lines}), discounts"
                f" {r.discount_total} (lines {r.line_discounts}), exclusive tax {r.exclusive_tax},"
                f" total {r.total}, credit applied"
                f" {r.credit_applied}, credit notes before payment {r.prepaid}, amount due {r.amount_due}"
            ),
        )
        for r in await session.execute(_INVOICE_TOTAL)
    ]
    found += [
        Violation(
            invariant="invoice_credited",
            subject_type="invoice",
            subject_id=str(r.id),
            org_id=r.org_id,
            detail=f"invoice {r.number}: amount_credited {r.amount_credited}, issued credit notes {r.notes}",
        )
        for r in await session.execute(_INVOICE_CREDITED)
    ]
    found += await tax_violations(session)
    found += await check_usage_billed_once(session)  # usage_billed_once, metered_usage_linked
    found += await credit_violations(session)  # credit_balance
    return found


async def account_nets(session: AsyncSession) -> list[AccountNet]:
    return [
        AccountNet(account_id=r.account_id, org_id=r.org_id, currency=r.currency, net=int(r.net))
        for r in await session.execute(_ACCOUNT_NETS)
    ]


async def money_documents(session: AsyncSession) -> list[MoneyDocument]:
    return [
        MoneyDocument(
            subject_type=r.subject_type,
            subject_id=r.id,
            org_id=r.org_id,
            created_event=r.created_event,
            at_least_once=r.at_least_once,
        )
        for r in await session.execute(_MONEY_DOCUMENTS)
    ]
