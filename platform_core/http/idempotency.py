"""`Idempotency-Key` with Stripe's semantics, stored in the request's own transaction.

The key row is inserted before the work and the response is saved in the same transaction,
so a retry after a crash either finds the committed response (and replays it) or finds no
row (the first attempt rolled back, nothing happened) — never a half-done operation. A
concurrent duplicate blocks on the key's unique index until the first commits, then replays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Request, Response
from sqlalchemy import text

from platform_core.core.errors import InvalidRequest, Unprocessable
from platform_core.messaging.idempotency_keys import KEY_TTL
from platform_core.messaging.uow import UnitOfWork

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

_CLAIM = text(
    """INSERT INTO platform.idempotency_keys (owner, key, method, path, request_hash)
       VALUES (:owner, :key, :method, :path, :hash)
       ON CONFLICT (owner, key) DO UPDATE
          SET method = EXCLUDED.method, path = EXCLUDED.path, request_hash = EXCLUDED.request_hash,
              status_code = NULL, response_body = NULL, created_at = now()
        WHERE platform.idempotency_keys.created_at < now() - CAST(:ttl AS interval)
       RETURNING owner"""
)
_FETCH = text(
    """SELECT method, path, request_hash, status_code, response_body
         FROM platform.idempotency_keys WHERE owner = :owner AND key = :key"""
)
_SAVE = text(
    """UPDATE platform.idempotency_keys SET status_code = :status, response_body = :body
        WHERE owner = :owner AND key = :key"""
)


def _owner(uow: UnitOfWork) -> str:
    p = uow.principal
    return f"{p.type}:{p.id}" if p else "anonymous"


async def idempotent(
    request: Request[Any, Any, Any],
    uow: UnitOfWork,
    produce: Callable[[], Awaitable[tuple[int, Any]]],
) -> Response[Any]:
    """Run `produce` (returning status and a msgspec-encodable body) at most once per key."""
    key = request.headers.get(HEADER)

    async def run() -> tuple[int, bytes]:
        status, body = await produce()
        return status, msgspec.json.encode(body)

    if key is None:
        status, encoded = await run()
        return Response(encoded, status_code=status, media_type="application/json")
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters", code="invalid_idempotency_key"
        )

    body = await request.body()
    # the query is part of the request: `?org_id=A` and `?org_id=B` are different operations
    target = f"{request.url.path}?{request.url.query}" if request.url.query else request.url.path
    request_hash = hashlib.sha256(body).digest()
    params = {"owner": _owner(uow), "key": key}
    inserted = (
        await uow.session.execute(
            _CLAIM,
            {**params, "method": request.method, "path": target, "hash": request_hash, "ttl": KEY_TTL},
        )
    ).first()
    if inserted is None:
        stored = (await uow.session.execute(_FETCH, params)).one()
        if stored.method != request.method or stored.path != target or stored.request_hash != request_hash:
            raise Unprocessable(
                f"this {HEADER} was used with a different request", code="idempotency_key_reused"
            )
        return Response(
            bytes(stored.response_body),
            status_code=stored.status_code,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
    status, encoded = await run()
    await uow.session.execute(_SAVE, {**params, "status": status, "body": encoded})
    return Response(encoded, status_code=status, media_type="application/json")
