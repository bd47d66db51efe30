"""Every payment, refund, credit note and dispute billing holds appears exactly once in the
audit log, as the event that created it (a refund made at the provider: at least once, as the
`billing.refund.updated` that first recorded it) (`billing.api.money_documents`, read in the caller's
snapshot). A record still in the audit outbox is on its way to the log and counts; records
are counted by event id, so one event in both places counts once. One query: billing's
documents go in as arrays."""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Boolean, Text, Uuid

from modules.billing import api as billing_api
from modules.billing.contracts import Violation

_AUDITED_ONCE = text(
    """
WITH documents AS (
    SELECT * FROM unnest(:ids, :types, :orgs, :actions, :at_least_once)
        AS d(id, subject_type, org_id, action, at_least_once)
), records AS (
    SELECT event_id, action, target_type, target_id FROM audit.audit_logs
     WHERE action = ANY(:distinct_actions)
    UNION
    SELECT event_id, action, target_type, target_id FROM audit.audit_outbox
     WHERE action = ANY(:distinct_actions)
)
SELECT d.id, d.subject_type, d.org_id, d.action, d.at_least_once, count(DISTINCT r.event_id) AS records
  FROM documents d
  LEFT JOIN records r
    ON r.action = d.action AND r.target_type = d.subject_type AND r.target_id = d.id::text
 GROUP BY d.id, d.subject_type, d.org_id, d.action, d.at_least_once
HAVING CASE WHEN d.at_least_once THEN count(DISTINCT r.event_id) = 0 ELSE count(DISTINCT r.event_id) <> 1 END
 ORDER BY d.subject_type, d.id
"""
).bindparams(
    bindparam("ids", type_=ARRAY(Uuid)),
    bindparam("types", type_=ARRAY(Text)),
    bindparam("orgs", type_=ARRAY(Uuid)),
    bindparam("actions", type_=ARRAY(Text)),
    bindparam("at_least_once", type_=ARRAY(Boolean)),
    bindparam("distinct_actions", type_=ARRAY(Text)),
)


async def check_billing_documents(session: AsyncSession) -> list[Violation]:
    documents = await billing_api.money_documents(session)
    rows = await session.execute(
        _AUDITED_ONCE,
        {
            "ids": [d.subject_id for d in documents],
            "types": [d.subject_type for d in documents],
            "orgs": [d.org_id for d in documents],
            "actions": [d.created_event for d in documents],
            "at_least_once": [d.at_least_once for d in documents],
            "distinct_actions": sorted({d.created_event for d in documents}),
        },
    )
    return [
        Violation(
            invariant="audited_once",
            subject_type=r.subject_type,
            subject_id=str(r.id),
            org_id=r.org_id,
            detail=f"{r.subject_type} {r.id}: {r.records} audit record(s) of {r.action}, expected"
            f" {'at least 1' if r.at_least_once else '1'}",
        )
        for r in rows
    ]
