"""Where `Idempotency-Key`s live (platform.idempotency_keys), how long they count, how their
stored responses are sealed, and the job that forgets them. The HTTP side that claims and
replays them is platform_core.http.idempotency.

Stored responses may carry secrets shown once (service-account keys, personal tokens,
invitation tokens, webhook signing secrets), so they are sealed at rest with AES-256-GCM under
a key derived from the token pepper (HKDF-SHA256). The row's owner and key are the associated
data: a sealed body moved to another row does not open."""

from __future__ import annotations

import os
from datetime import timedelta
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Column, DateTime, Integer, LargeBinary, Table, Text, func, text

from platform_core.messaging.scheduler import batched_job
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.db import METADATA

IDEMPOTENCY_KEYS = Table(
    "idempotency_keys",
    METADATA,
    Column("owner", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("method", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("request_hash", LargeBinary, nullable=False),
    Column("status_code", Integer),
    Column("response_body", LargeBinary),  # sealed: see `seal_response`
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False, index=True),
    schema="platform",
)

KEY_TTL = timedelta(hours=24)  # as Stripe: a key older than this is forgotten and may be used afresh

_SEALED_V1 = b"\x01"  # format byte: a later key or cipher gets a new one
_NONCE_BYTES = 12
_HKDF_INFO = b"keel/idempotency-responses/v1"


class UnreadableResponse(Exception):
    """A stored response that does not open: sealed under another pepper, or not sealed."""


@lru_cache(maxsize=4)
def _cipher(pepper: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(pepper.encode())
    return AESGCM(key)


def _associated_data(owner: str, key: str) -> bytes:
    return f"{owner}\x00{key}".encode()


def seal_response(pepper: str, owner: str, key: str, body: bytes) -> bytes:
    """`body` encrypted and authenticated for the row (owner, key): format byte, nonce, ciphertext."""
    nonce = os.urandom(_NONCE_BYTES)
    return _SEALED_V1 + nonce + _cipher(pepper).encrypt(nonce, body, _associated_data(owner, key))


def open_response(pepper: str, owner: str, key: str, sealed: bytes) -> bytes:
    """The body `seal_response` sealed for this row; `UnreadableResponse` if it does not open."""
    if not sealed.startswith(_SEALED_V1):
        raise UnreadableResponse("the stored response is not sealed")
    nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
    try:
        return _cipher(pepper).decrypt(nonce, ciphertext, _associated_data(owner, key))
    except InvalidTag as exc:
        raise UnreadableResponse("the stored response was sealed under another key") from exc


PURGE_BATCH = 5000
_PURGE = text(
    """DELETE FROM platform.idempotency_keys
        WHERE (owner, key) IN (
              SELECT owner, key FROM platform.idempotency_keys
               WHERE created_at < now() - CAST(:ttl AS interval)
               ORDER BY created_at LIMIT :batch
                 FOR UPDATE SKIP LOCKED)"""
)


async def purge_expired_keys(uow: UnitOfWork) -> int:
    """Delete up to `PURGE_BATCH` keys past their TTL (they are already ignored by
    `idempotent`; this only keeps the table small)."""
    result = await uow.session.execute(_PURGE, {"ttl": KEY_TTL, "batch": PURGE_BATCH})
    deleted: int = result.rowcount  # type: ignore[attr-defined]
    return deleted


PURGE_EXPIRED_KEYS = batched_job(
    "platform.purge_idempotency_keys",
    timedelta(hours=1),
    purge_expired_keys,
    PURGE_BATCH,
    summary="purged {} expired idempotency key(s)",
    description=f"Delete Idempotency-Key records older than {KEY_TTL.total_seconds() / 3600:g} hours.",
)
