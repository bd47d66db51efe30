"""The hash chain: what a link covers, and appending a drained batch to the chains.

A record's digest is SHA-256 of its canonical bytes, which PostgreSQL computes from the record's
columns (`audit.canonical_record`, defined by migration `audit_0007_outbox_records`: the JSON
text of one array of the columns, occurred_at in UTC). The outbox stores it as a generated
column when the event is captured; `verify` recomputes it from the stored log row. Both come
from one definition over the same values; Python never re-encodes a record. A link is

    hash = SHA-256(prev_hash || seq as 8 bytes big-endian || record digest)

with prev_hash empty for a chain's first record.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from modules.audit.models import RECORD_COLUMNS
from platform_core.messaging.outbox import OutboxRow
from platform_core.persistence.db import driver_of

PLATFORM_CHAIN = uuid.UUID(int=0)

# What `append_batch` needs of each outbox row: its chain and its digest.
OUTBOX_RETURNING = "id, org_id, record_digest"


def link_hash(prev_hash: bytes | None, seq: int, record_digest: bytes) -> bytes:
    return hashlib.sha256((prev_hash or b"") + seq.to_bytes(8, "big") + record_digest).digest()


# Statements for asyncpg directly (see `append_batch`).
_LOCK_HEADS = """
    WITH wanted AS (SELECT unnest($1::uuid[]) AS chain_key),
    created AS (
        INSERT INTO audit.audit_chain_heads (chain_key) SELECT chain_key FROM wanted
            ON CONFLICT DO NOTHING RETURNING chain_key)
    SELECT chain_key, seq, hash FROM audit.audit_chain_heads
     WHERE chain_key = ANY($1::uuid[]) ORDER BY chain_key FOR UPDATE"""
_COLUMN_LIST = ", ".join(RECORD_COLUMNS)
_APPEND = f"""
    INSERT INTO audit.audit_logs ({_COLUMN_LIST}, seq, prev_hash, hash)
    SELECT {", ".join(f"o.{c}" for c in RECORD_COLUMNS)}, link.seq, link.prev_hash, link.hash
      FROM unnest($1::uuid[], $2::bigint[], $3::bytea[], $4::bytea[])
           WITH ORDINALITY AS link(id, seq, prev_hash, hash, n)
      JOIN audit.audit_outbox AS o ON o.id = link.id
     ORDER BY link.n"""
_MOVE_HEADS = """
    UPDATE audit.audit_chain_heads AS h SET seq = n.seq, hash = n.hash
      FROM unnest($1::uuid[], $2::bigint[], $3::bytea[]) AS n(chain_key, seq, hash)
     WHERE h.chain_key = n.chain_key"""


async def append_batch(conn: AsyncConnection, rows: Sequence[OutboxRow]) -> None:
    """Relay handler: link the claimed outbox rows into their chains, in outbox order, and copy
    them into audit_logs inside the database; the relay then deletes them from the outbox. A
    duplicate event_id violates audit_logs' unique key, so a record is never logged twice."""
    driver = await driver_of(conn)
    keys = sorted({row["org_id"] or PLATFORM_CHAIN for row in rows})
    heads: dict[uuid.UUID, tuple[int, bytes | None]] = {
        r["chain_key"]: (r["seq"], r["hash"]) for r in await driver.fetch(_LOCK_HEADS, keys)
    }
    if len(heads) < len(keys):  # heads created by the CTE are locked but not visible to it
        heads.update({r["chain_key"]: (r["seq"], r["hash"]) for r in await driver.fetch(_LOCK_HEADS, keys)})
    ids: list[uuid.UUID] = []
    seqs: list[int] = []
    prevs: list[bytes | None] = []
    hashes: list[bytes] = []
    for row in rows:
        key = row["org_id"] or PLATFORM_CHAIN
        seq, prev = heads[key]
        seq += 1
        digest = link_hash(prev, seq, row["record_digest"])
        heads[key] = (seq, digest)
        ids.append(row["id"])
        seqs.append(seq)
        prevs.append(prev)
        hashes.append(digest)
    await driver.execute(_APPEND, ids, seqs, prevs, hashes)
    await driver.execute(_MOVE_HEADS, keys, [heads[k][0] for k in keys], [heads[k][1] for k in keys])
