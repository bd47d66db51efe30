"""Reading the audit log: filtered pages, and chain verification."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from modules.audit.contracts import AuditActor, AuditLogDTO, AuditTarget, ChainBreak, VerifyResult
from modules.audit.models import AuditArchiveManifest, AuditLog, record_digest_sql
from modules.audit.services.chain import link_hash
from platform_core.persistence.pagination import Page, keyset, page_of


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
    record digest), the digest recomputed by the database from the stored columns. A gap is
    accepted only where retention left a manifest that starts there and links to the record
    before it; the chain then continues from the manifest's last hash."""
    runs = await _archived_runs(session, org_id=org_id, all_orgs=all_orgs)
    digest = literal_column(record_digest_sql(AuditLog.__tablename__), LargeBinary).label("record_digest")
    stmt = select(AuditLog.org_id, AuditLog.seq, AuditLog.prev_hash, AuditLog.hash, digest)
    if not all_orgs:
        stmt = stmt.where(AuditLog.org_id == org_id if org_id else AuditLog.org_id.is_(None))
    stmt = stmt.order_by(AuditLog.org_id.nulls_first(), AuditLog.seq).execution_options(yield_per=chunk)
    checked = 0
    archived = 0
    chains = 0
    current: tuple[bool, uuid.UUID | None] | None = None
    expected_seq = 1
    prev: bytes | None = None
    result = await session.stream(stmt)
    async for row in result:
        key = (True, row.org_id)
        if key != current:
            if current is not None:  # runs removed from the end of the previous chain
                archived += _step_over_runs(runs, current[1], expected_seq, prev).count
            current, expected_seq, prev = key, 1, None
            chains += 1
        step = _step_over_runs(runs, row.org_id, expected_seq, prev, until=row.seq)
        archived += step.count
        expected_seq, prev = step.expected_seq, step.prev
        reason = step.reason or _link_error(row, expected_seq, prev)
        if reason:
            await result.close()
            return VerifyResult(
                ok=False, checked=checked, chains=chains, archived=archived,
                first_break=ChainBreak(org_id=row.org_id, seq=row.seq, reason=reason),
            )  # fmt: skip
        checked += 1
        expected_seq += 1
        prev = row.hash
    if current is not None:
        archived += _step_over_runs(runs, current[1], expected_seq, prev).count
    return VerifyResult(ok=True, checked=checked, chains=chains, archived=archived)


@dataclass(frozen=True)
class _Step:
    expected_seq: int
    prev: bytes | None
    count: int
    reason: str | None = None


def _step_over_runs(
    runs: Mapping[tuple[uuid.UUID | None, int], AuditArchiveManifest],
    org_id: uuid.UUID | None,
    expected_seq: int,
    prev: bytes | None,
    until: int | None = None,
) -> _Step:
    """Follow the archived runs that continue the chain at `expected_seq` (up to `until`, the
    next stored record), each of which must link to what came before it."""
    count = 0
    while until is None or expected_seq < until:
        run = runs.get((org_id, expected_seq))
        if run is None:
            break
        if run.prev_hash != prev:
            reason = f"the archived run from seq {expected_seq} does not link to the record before it"
            return _Step(expected_seq, prev, count, reason)
        count += run.row_count
        expected_seq, prev = run.seq_to + 1, run.last_hash
    return _Step(expected_seq, prev, count)


def _link_error(row: Any, expected_seq: int, prev: bytes | None) -> str | None:
    if row.seq != expected_seq:
        return f"expected seq {expected_seq}"
    if row.prev_hash != prev:
        return "prev_hash does not match the previous record"
    if link_hash(prev, row.seq, row.record_digest) != row.hash:
        return "hash does not match the record"
    return None


async def _archived_runs(
    session: AsyncSession, *, org_id: uuid.UUID | None, all_orgs: bool
) -> dict[tuple[uuid.UUID | None, int], AuditArchiveManifest]:
    stmt = select(AuditArchiveManifest)
    if not all_orgs:
        stmt = stmt.where(
            AuditArchiveManifest.org_id == org_id if org_id else AuditArchiveManifest.org_id.is_(None)
        )
    return {(m.org_id, m.seq_from): m for m in await session.scalars(stmt)}
