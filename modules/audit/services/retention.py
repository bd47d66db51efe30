"""Retention: remove records older than their chain's policy, unless a legal hold covers them,
archiving them first when the policy says so.

Removed records form runs of consecutive `seq`. Each run leaves a manifest row with the link
before it (`prev_hash`) and its last record's hash (`last_hash`): `verify` steps over the gap
through the manifest, so a chain with removed runs still proves that nothing else is missing
or changed. The deletion runs under `keel.audit_retention = on`, the only way past the
append-only trigger, and in the same transaction as the manifest and its event."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text

from modules.audit.contracts import RECORDS_ARCHIVED
from modules.audit.models import AuditArchiveManifest, record_digest_sql
from modules.audit.services.archive_files import archive_path, archive_root, write_archive
from modules.audit.services.chain import PLATFORM_CHAIN
from platform_core.core.clock import utcnow
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork

BATCH = 10_000  # records examined per transaction

_POLICIES = text(
    "SELECT org_id, tier, retention_days, archive_before_delete FROM audit.audit_retention_policies"
)
_CHAINS = text("SELECT chain_key FROM audit.audit_chain_heads ORDER BY chain_key")
_HELD = """EXISTS (
    SELECT 1 FROM audit.audit_legal_holds h
     WHERE h.released_at IS NULL
       AND (h.org_id IS NULL OR h.org_id = l.org_id)
       AND (h.actor_id IS NULL OR h.actor_id = l.actor_id)
       AND (h.starts_at IS NULL OR l.occurred_at >= h.starts_at)
       AND (h.ends_at IS NULL OR l.occurred_at < h.ends_at))"""
_LINE = f"""(to_jsonb(l) - 'prev_hash' - 'hash' || jsonb_build_object(
    'prev_hash', encode(l.prev_hash, 'hex'), 'hash', encode(l.hash, 'hex'),
    'record_digest', encode({record_digest_sql("l")}, 'hex')))::text"""
_ENABLE_DELETE = text("SELECT set_config('keel.audit_retention', 'on', true)")
_DISABLE_DELETE = text("SELECT set_config('keel.audit_retention', 'off', true)")


def _chain_filter(org_id: uuid.UUID | None) -> str:
    return "l.org_id = :org" if org_id else "l.org_id IS NULL"


@dataclass(frozen=True)
class Policy:
    retention_days: int
    archive: bool


@dataclass
class Run:
    """Consecutive removable records of one chain."""

    seqs: list[int]
    lines: list[str]
    first_prev: bytes | None
    last_hash: bytes
    start: datetime
    end: datetime


def runs_of(rows: list[Any]) -> list[Run]:
    runs: list[Run] = []
    for row in rows:
        current = runs[-1] if runs else None
        if current is not None and row.seq == current.seqs[-1] + 1:
            current.seqs.append(row.seq)
            current.lines.append(row.line)
            current.last_hash = row.hash
            current.start, current.end = (
                min(current.start, row.occurred_at),
                max(current.end, row.occurred_at),
            )
        else:
            runs.append(Run([row.seq], [row.line], row.prev_hash, row.hash, row.occurred_at, row.occurred_at))
    return runs


async def _policies(uow: UnitOfWork) -> tuple[dict[uuid.UUID, Policy], dict[str, Policy]]:
    by_org: dict[uuid.UUID, Policy] = {}
    by_tier: dict[str, Policy] = {}
    for row in await uow.session.execute(_POLICIES):
        policy = Policy(row.retention_days, row.archive_before_delete)
        if row.org_id is not None:
            by_org[row.org_id] = policy
        else:
            by_tier[row.tier] = policy
    return by_org, by_tier


async def apply_retention(uow: UnitOfWork, *, limit: int = BATCH) -> int:
    """Remove (and archive) up to `limit` expired, unheld records; returns how many."""
    by_org, by_tier = await _policies(uow)
    if not by_org and not by_tier:
        return 0
    removed = 0
    for chain_key in (await uow.session.scalars(_CHAINS)).all():
        org_id = None if chain_key == PLATFORM_CHAIN else chain_key
        policy = by_org.get(org_id) if org_id else None
        policy = policy or by_tier.get("default" if org_id else "platform")
        if policy is None:
            continue
        removed += await _remove_expired(uow, org_id, policy, limit - removed)
        if removed >= limit:
            break
    return removed


async def _remove_expired(uow: UnitOfWork, org_id: uuid.UUID | None, policy: Policy, limit: int) -> int:
    rows = (
        await uow.session.execute(
            text(
                f"""SELECT l.seq, l.occurred_at, l.prev_hash, l.hash, {_LINE} AS line
                      FROM audit.audit_logs l
                     WHERE {_chain_filter(org_id)} AND l.occurred_at < :cutoff AND NOT {_HELD}
                     ORDER BY l.seq LIMIT :limit"""
            ),
            {"org": org_id, "cutoff": utcnow() - timedelta(days=policy.retention_days), "limit": limit},
        )
    ).all()
    for run in runs_of(list(rows)):
        await _remove_run(uow, org_id, run, policy.archive)
    return len(rows)


async def _remove_run(uow: UnitOfWork, org_id: uuid.UUID | None, run: Run, archive: bool) -> None:
    seq_from, seq_to = run.seqs[0], run.seqs[-1]
    location = sha256 = None
    if archive:
        path = archive_path(archive_root(uow.settings), org_id, seq_from, seq_to)
        sha256 = await asyncio.to_thread(write_archive, path, run.lines)
        location = str(path)
    uow.session.add(
        AuditArchiveManifest(
            org_id=org_id,
            range_start=run.start,
            range_end=run.end,
            seq_from=seq_from,
            seq_to=seq_to,
            row_count=len(run.seqs),
            sha256=sha256,
            location=location,
            prev_hash=run.first_prev,
            last_hash=run.last_hash,
        )
    )
    await uow.session.flush()
    await uow.session.execute(_ENABLE_DELETE)
    deleted = await uow.session.execute(
        text(f"DELETE FROM audit.audit_logs l WHERE {_chain_filter(org_id)} AND l.seq BETWEEN :a AND :b"),
        {"org": org_id, "a": seq_from, "b": seq_to},
    )
    await uow.session.execute(_DISABLE_DELETE)
    if deleted.rowcount != len(run.seqs):  # type: ignore[attr-defined]
        raise RuntimeError(
            f"retention of {org_id or 'platform'} {seq_from}-{seq_to} would delete other records"
        )
    await uow.emit(
        RECORDS_ARCHIVED,
        subject=Subject(type="audit_chain", id=str(org_id or "platform")),
        data={
            "seq_from": seq_from,
            "seq_to": seq_to,
            "row_count": len(run.seqs),
            "archived": archive,
            "location": location,
            "sha256": sha256,
        },
        org_id=org_id,
    )
