"""Reading the audit log: filtered pages, and chain verification."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import LargeBinary, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from modules.audit.contracts import AuditActor, AuditLogDTO, AuditTarget, ChainBreak, VerifyResult
from modules.audit.models import AuditLog, record_digest_sql
from modules.audit.services.chain import link_hash
from platform_core.pagination import Page, keyset, page_of


def to_dto(row: AuditLog) -> AuditLogDTO:
    return AuditLogDTO(
        id=row.id,
        event_id=row.event_id,
        org_id=row.org_id,
        seq=row.seq,
        action=row.action,
        crud=row.crud,
        outcome=row.outcome,
        actor=AuditActor(type=row.actor_type, id=row.actor_id, name=row.actor_name),
        target=AuditTarget(type=row.target_type, id=row.target_id, name=row.target_name),
        source_ip=str(row.source_ip) if row.source_ip else None,
        user_agent=row.user_agent,
        metadata=row.metadata_,
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
        prev_hash=row.prev_hash.hex() if row.prev_hash else None,
        hash=row.hash.hex(),
    )


class LogFilter:
    def __init__(
        self,
        *,
        org_id: uuid.UUID | None = None,
        all_orgs: bool = False,
        action: str | None = None,
        actor_id: str | None = None,
        target_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> None:
        self.org_id = org_id
        self.all_orgs = all_orgs
        self.action = action
        self.actor_id = actor_id
        self.target_id = target_id
        self.since = since
        self.until = until


async def list_logs(
    session: AsyncSession, flt: LogFilter, *, limit: int, cursor: str | None
) -> Page[AuditLogDTO]:
    stmt = select(AuditLog)
    if not flt.all_orgs:
        stmt = stmt.where(AuditLog.org_id == flt.org_id if flt.org_id else AuditLog.org_id.is_(None))
    if flt.action:
        stmt = stmt.where(AuditLog.action.like(flt.action.replace("*", "%")))
    if flt.actor_id:
        stmt = stmt.where(AuditLog.actor_id == flt.actor_id)
    if flt.target_id:
        stmt = stmt.where(AuditLog.target_id == flt.target_id)
    if flt.since:
        stmt = stmt.where(AuditLog.occurred_at >= flt.since)
    if flt.until:
        stmt = stmt.where(AuditLog.occurred_at < flt.until)
    stmt = keyset(stmt, [AuditLog.__table__.c.id], cursor=cursor, limit=limit, descending=True)
    rows = (await session.scalars(stmt)).all()
    return page_of(rows, limit, key_of=lambda r: [r.id], convert=to_dto)


async def verify_chains(
    session: AsyncSession, *, org_id: uuid.UUID | None = None, all_orgs: bool = False, chunk: int = 5000
) -> VerifyResult:
    """Recompute every link: gapless seq from 1, prev_hash = previous hash, hash = H(prev, seq,
    record digest), the digest recomputed by the database from the stored columns."""
    digest = literal_column(record_digest_sql(AuditLog.__tablename__), LargeBinary).label("record_digest")
    stmt = select(AuditLog.org_id, AuditLog.seq, AuditLog.prev_hash, AuditLog.hash, digest)
    if not all_orgs:
        stmt = stmt.where(AuditLog.org_id == org_id if org_id else AuditLog.org_id.is_(None))
    stmt = stmt.order_by(AuditLog.org_id.nulls_first(), AuditLog.seq).execution_options(yield_per=chunk)
    checked = 0
    chains = 0
    current: tuple[bool, uuid.UUID | None] | None = None
    expected_seq = 1
    prev: bytes | None = None
    result = await session.stream(stmt)
    async for row in result:
        key = (True, row.org_id)
        if key != current:
            current, expected_seq, prev = key, 1, None
            chains += 1
        reason = None
        if row.seq != expected_seq:
            reason = f"expected seq {expected_seq}"
        elif row.prev_hash != prev:
            reason = "prev_hash does not match the previous record"
        elif link_hash(prev, row.seq, row.record_digest) != row.hash:
            reason = "hash does not match the record"
        if reason:
            await result.close()
            return VerifyResult(
                ok=False, checked=checked, chains=chains,
                first_break=ChainBreak(org_id=row.org_id, seq=row.seq, reason=reason),
            )  # fmt: skip
        checked += 1
        expected_seq += 1
        prev = row.hash
    return VerifyResult(ok=True, checked=checked, chains=chains)
