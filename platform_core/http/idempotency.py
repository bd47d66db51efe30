"""`Idempotency-Key` with Stripe's semantics on every POST, stored in the request's own transaction.

Every POST route honours the header unless its `opt` says why not (`exempt(reason)`), and so
does any other route whose `opt` is `honoured()` (a PUT that creates a version). The unit
of work dependency calls `claim_key` right after it opens the transaction and `save_response`
right before it commits; handlers just return their data. So the key row is inserted before
the work and the response saved in the same transaction: a retry after a crash either finds the
committed response (and replays it) or finds no row (the first attempt rolled back, nothing
happened), never a half-done operation. A concurrent duplicate blocks on the key's unique
index until the first commits, then replays. Stored responses are sealed at rest
(platform_core.messaging.idempotency_keys).

`KeelResponse` (the app's response class) hands the encoded response to the claim: Litestar
renders the response before it runs the dependencies' cleanup, so the bytes saved are the
bytes sent."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, MediaType, Request, Response
from litestar.background_tasks import BackgroundTask, BackgroundTasks
from litestar.datastructures import Cookie
from litestar.handlers import BaseRouteHandler
from litestar.response.base import ASGIResponse
from litestar.types import ExceptionHandlersMap, TypeEncodersMap
from sqlalchemy import text

from platform_core.core.errors import Conflict, InvalidRequest, Unprocessable
from platform_core.messaging.idempotency_keys import (
    KEY_TTL,
    UnreadableResponse,
    open_response,
    seal_response,
)
from platform_core.messaging.uow import UnitOfWork

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
EXEMPT = "idempotency_exempt"  # a route `opt` key; its value says why a POST ignores the header
HONOURED = "idempotency_honoured"  # a route `opt` key: a PUT or PATCH that creates honours it too
_CLAIM_STATE = "keel.idempotency_claim"  # in the request's scope state

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


def exempt(reason: str) -> dict[str, Any]:
    """The `opt` of a POST route that does not honour `Idempotency-Key`, saying why."""
    return {EXEMPT: reason}


def honoured() -> dict[str, Any]:
    """The `opt` of a route other than a POST that honours `Idempotency-Key` (a PUT that creates)."""
    return {HONOURED: True}


def honours_key(handler: BaseRouteHandler) -> bool:
    """Whether `handler` replays on a repeated `Idempotency-Key`: every POST not exempt, and
    the routes marked `honoured()`."""
    if handler.opt.get(EXEMPT):
        return False
    methods: set[str] = getattr(handler, "http_methods", set())
    return "POST" in methods or bool(handler.opt.get(HONOURED))


@dataclass
class _Claim:
    owner: str
    key: str
    response: tuple[int, bytes] | None = None


class IdempotentReplay(Exception):
    """The key's first response, to be sent again instead of running the handler."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__("idempotent replay")
        self.status = status
        self.body = body


def _owner(uow: UnitOfWork) -> str:
    p = uow.principal
    return f"{p.type}:{p.id}" if p else "anonymous"


async def claim_key(request: Request[Any, Any, Any], uow: UnitOfWork) -> None:
    """Claim the request's `Idempotency-Key` in `uow`'s transaction, or raise `IdempotentReplay`
    with the response stored under it. Does nothing for a request without the header, or
    whose route does not honour it."""
    if request.method == "GET" or not honours_key(request.route_handler):
        return
    key = request.headers.get(HEADER)
    if key is None:
        return
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters", code="invalid_idempotency_key"
        )
    body = await request.body()
    # the query is part of the request: `?org_id=A` and `?org_id=B` are different operations
    target = f"{request.url.path}?{request.url.query}" if request.url.query else request.url.path
    request_hash = hashlib.sha256(body).digest()
    claim = _Claim(owner=_owner(uow), key=key)
    params = {"owner": claim.owner, "key": key}
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
        try:
            replayed = open_response(uow.settings.token_pepper, claim.owner, key, bytes(stored.response_body))
        except UnreadableResponse as exc:
            raise Conflict(
                f"the response stored for this {HEADER} can no longer be read; use a new key",
                code="idempotency_key_unreadable",
            ) from exc
        raise IdempotentReplay(stored.status_code, replayed)
    request.scope.setdefault("state", {})[_CLAIM_STATE] = claim


async def save_response(request: Request[Any, Any, Any], uow: UnitOfWork) -> None:
    """Store the rendered response under the claimed key, sealed, before `uow` commits."""
    claim: _Claim | None = request.scope.get("state", {}).pop(_CLAIM_STATE, None)
    if claim is None:
        return
    if claim.response is None:
        raise RuntimeError(
            f"{request.method} {request.url.path} honours {HEADER} but answered with a Response "
            "object; return the data (or mark the route idempotency.exempt(...))"
        )
    status, body = claim.response
    sealed = seal_response(uow.settings.token_pepper, claim.owner, claim.key, body)
    await uow.session.execute(
        _SAVE, {"owner": claim.owner, "key": claim.key, "status": status, "body": sealed}
    )


class KeelResponse(Response[Any]):
    """The app's response class: also hands the rendered response to a pending key claim."""

    def to_asgi_response(
        self,
        app: Litestar | None,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        response = super().to_asgi_response(
            app,
            request,
            background=background,
            cookies=cookies,
            encoded_headers=encoded_headers,
            headers=headers,
            is_head_response=is_head_response,
            media_type=media_type,
            status_code=status_code,
            type_encoders=type_encoders,
        )
        claim: _Claim | None = request.scope.get("state", {}).get(_CLAIM_STATE)
        if claim is not None:
            claim.response = (response.status_code, response.body)
        return response


def _replay(request: Request[Any, Any, Any], exc: IdempotentReplay) -> Response[Any]:
    return Response(
        exc.body, status_code=exc.status, media_type="application/json", headers={REPLAYED_HEADER: "true"}
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {IdempotentReplay: _replay}
