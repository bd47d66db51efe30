"""The hash chain: canonical record bytes, link hashing, and appending a drained batch."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from platform_core.events import Event
from platform_core.outbox import OutboxRow

PLATFORM_CHAIN = uuid.UUID(int=0)

# What `append_batch` reads of each outbox row; JSON as text, decoded straight into an Event.
OUTBOX_RETURNING = "id, payload::text AS payload"

_CREATE_VERBS = {"created", "added", "issued", "placed", "granted", "invited", "registered", "opened"}
_DELETE_VERBS = {"deleted", "removed", "erased", "revoked", "archived", "released", "canceled"}
_READ_VERBS = {"read", "viewed", "exported", "listed"}

COLUMNS = (
    "event_id", "org_id", "seq", "action", "crud", "outcome", "actor_type", "actor_id", "actor_name",
    "target_type", "target_id", "target_name", "source_ip", "user_agent", "event_version", "metadata",
    "occurred_at", "prev_hash", "hash",
)  # fmt: skip


def crud_of(action: str) -> str:
    verb = action.rsplit(".", 1)[-1]
    if verb in _CREATE_VERBS:
        return "c"
    if verb in _DELETE_VERBS:
        return "d"
    if verb in _READ_VERBS:
        return "r"
    return "u"


def canonical(record: dict[str, Any]) -> bytes:
    """Deterministic bytes of everything the hash covers (not prev_hash, hash or recorded_at)."""
    return _canonical(*(record[f] for f in HASHED_FIELDS))


HASHED_FIELDS = (
    "event_id", "org_id", "seq", "action", "crud", "outcome", "actor_type", "actor_id", "actor_name",
    "target_type", "target_id", "target_name", "source_ip", "user_agent", "event_version", "metadata",
    "occurred_at",
)  # fmt: skip


def _canonical(
    event_id: uuid.UUID, org_id: uuid.UUID | None, seq: int, action: str, crud: str, outcome: str,
    actor_type: str, actor_id: str | None, actor_name: str | None,
    target_type: str, target_id: str, target_name: str | None,
    source_ip: Any, user_agent: str | None, event_version: int, metadata: dict[str, Any],
    occurred_at: datetime,
) -> bytes:  # fmt: skip
    body = {
        "event_id": str(event_id),
        "org_id": str(org_id) if org_id else None,
        "seq": seq,
        "action": action,
        "crud": crud,
        "outcome": outcome,
        "actor": [actor_type, actor_id, actor_name],
        "target": [target_type, target_id, target_name],
        "source_ip": str(source_ip) if source_ip else None,
        "user_agent": user_agent,
        "event_version": event_version,
        "metadata": metadata,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(),
    }
    return msgspec.json.encode(body, order="sorted")


_SEQ_SLOT = b'"seq":0,'


def canonical_around_seq(
    event_id: uuid.UUID, org_id: uuid.UUID | None, action: str, crud: str, outcome: str,
    actor_type: str, actor_id: str | None, actor_name: str | None,
    target_type: str, target_id: str, target_name: str | None,
    source_ip: Any, user_agent: str | None, event_version: int, metadata: dict[str, Any],
    occurred_at: datetime,
) -> tuple[bytes, bytes]:  # fmt: skip
    """`_canonical(...)` split where the seq goes, so everything but the chain position is
    encoded before the chain heads are locked: canonical = before + str(seq) + after.

    Encoded with seq 0, the top-level `"seq":0,` is the *last* occurrence of those bytes: only
    source_ip, target and user_agent (strings, nulls, a list of them) sort after it, and a
    quote inside a JSON string is always escaped."""
    whole = _canonical(
        event_id, org_id, 0, action, crud, outcome, actor_type, actor_id, actor_name,
        target_type, target_id, target_name, source_ip, user_agent, event_version, metadata,
        occurred_at,
    )  # fmt: skip
    at = whole.rindex(_SEQ_SLOT)
    return whole[: at + len(_SEQ_SLOT) - 2], whole[at + len(_SEQ_SLOT) - 1 :]


def link_hash(prev_hash: bytes | None, record: dict[str, Any]) -> bytes:
    digest = hashlib.sha256(prev_hash or b"")
    digest.update(canonical(record))
    return digest.digest()


def record_of(event: Event) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "org_id": event.org_id,
        "action": event.type,
        "crud": crud_of(event.type),
        "outcome": "failure" if event.data.get("outcome") == "failure" else "success",
        "actor_type": event.actor.type,
        "actor_id": event.actor.id,
        "actor_name": event.actor.name,
        "target_type": event.subject.type,
        "target_id": event.subject.id,
        "target_name": event.subject.name,
        "source_ip": _ip_or_none(event.source_ip),
        "user_agent": event.user_agent,
        "event_version": event.version,
        "metadata": event.data,
        "occurred_at": event.occurred_at,
    }


@functools.lru_cache(maxsize=4096)
def _ip_or_none(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def _packed_ip(value: str) -> bytes:
    """asyncpg's inet encoder runs `ipaddress.ip_address(value)`; packed bytes are its fast path."""
    return ipaddress.ip_address(value).packed


def decode_event(payload: str | bytes | dict[str, Any]) -> Event:
    if isinstance(payload, str | bytes):
        return msgspec.json.decode(payload, type=Event)
    return msgspec.convert(payload, Event)


_ENSURE_HEADS = text(
    """INSERT INTO audit.audit_chain_heads (chain_key)
       SELECT unnest(CAST(:keys AS uuid[])) ON CONFLICT DO NOTHING"""
)
_LOCK_HEADS = text(
    """SELECT chain_key, seq, hash FROM audit.audit_chain_heads
        WHERE chain_key = ANY(CAST(:keys AS uuid[])) ORDER BY chain_key FOR UPDATE"""
)
_ALREADY_LOGGED = text("SELECT event_id FROM audit.audit_logs WHERE event_id = ANY(CAST(:ids AS uuid[]))")
_MOVE_HEADS = text(
    """UPDATE audit.audit_chain_heads AS h SET seq = n.seq, hash = n.hash
         FROM unnest(CAST(:keys AS uuid[]), CAST(:seqs AS bigint[]), CAST(:hashes AS bytea[]))
              AS n(chain_key, seq, hash)
        WHERE h.chain_key = n.chain_key"""
)


async def append_batch(conn: AsyncConnection, rows: Sequence[OutboxRow]) -> None:
    """Relay handler: append the claimed outbox rows to their chains, in outbox order."""
    events = [decode_event(row["payload"]) for row in rows]
    seen = {r.event_id for r in await conn.execute(_ALREADY_LOGGED, {"ids": [e.event_id for e in events]})}
    if seen:
        events = [e for e in events if e.event_id not in seen]
    if not events:
        return
    prepared = []
    for event in events:  # everything but the chain position, before the heads are locked
        actor, subject, data = event.actor, event.subject, event.data
        crud = crud_of(event.type)
        outcome = "failure" if data.get("outcome") == "failure" else "success"
        ip = _ip_or_none(event.source_ip)
        before, after = canonical_around_seq(
            event.event_id, event.org_id, event.type, crud, outcome,
            actor.type, actor.id, actor.name, subject.type, subject.id, subject.name,
            ip, event.user_agent, event.version, data, event.occurred_at,
        )  # fmt: skip
        columns = (  # COLUMNS from action to occurred_at
            event.type, crud, outcome, actor.type, actor.id, actor.name,
            subject.type, subject.id, subject.name, _packed_ip(ip) if ip else None,
            event.user_agent, event.version, _to_copy(data), event.occurred_at,
        )  # fmt: skip
        prepared.append((event, before, after, columns))
    keys = sorted({e.org_id or PLATFORM_CHAIN for e in events})
    await conn.execute(_ENSURE_HEADS, {"keys": keys})
    heads = {r.chain_key: (r.seq, r.hash) for r in await conn.execute(_LOCK_HEADS, {"keys": keys})}
    records = []
    for event, before, after, columns in prepared:
        key = event.org_id or PLATFORM_CHAIN
        seq, prev = heads[key]
        seq += 1
        digest = hashlib.sha256((prev or b"") + before + str(seq).encode() + after).digest()
        heads[key] = (seq, digest)
        records.append((event.event_id, event.org_id, seq, *columns, prev, digest))
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table("audit_logs", schema_name="audit", columns=COLUMNS, records=records)
    await conn.execute(
        _MOVE_HEADS,
        {"keys": keys, "seqs": [heads[k][0] for k in keys], "hashes": [heads[k][1] for k in keys]},
    )


def _to_copy(metadata: dict[str, Any]) -> str:
    return msgspec.json.encode(metadata).decode()
