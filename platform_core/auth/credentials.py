"""Authentication and authorization primitives. platform_core resolves bearer credentials into
a `Principal` through resolvers that modules register (identity: personal access tokens and
OIDC; organization: service-account keys), and asks a registered `Authorizer` for RBAC
decisions. It owns no credential table itself."""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
import zlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

import msgspec

from platform_core.cache.hot_cache import HotCaches
from platform_core.core.config import Settings
from platform_core.core.principal import Principal
from platform_core.messaging.uow import EventBus

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


class CredentialContext(msgspec.Struct, frozen=True, kw_only=True):
    """What a resolver may look at besides the token itself."""

    pepper: str
    source_ip: str | None = None
    origin: str | None = None
    user_agent: str | None = None
    # for resolvers that need configuration (OIDC issuer, JWKS) or that change state and must
    # publish events (just-in-time user provisioning)
    settings: Settings | None = None
    bus: EventBus | None = None
    caches: HotCaches | None = None  # where resolvers keep what they read (see hot_cache)


# The request's session, opened on the first call: a resolver answering from its cache never
# opens one, so such a request costs no connection checkout and no transaction.
SessionSource = Callable[[], "AsyncSession"]
CredentialResolver = Callable[[SessionSource, str, CredentialContext], Awaitable[Principal | None]]


class Authorizer(Protocol):
    async def is_allowed(
        self,
        session: AsyncSession,
        principal: Principal,
        permission: str,
        org_id: uuid.UUID | None,
        workspace_id: uuid.UUID | None,
    ) -> bool | None:
        """True: allowed. False: known to the org but lacks the permission (403).
        None: no standing in that organization at all (404, to hide its existence)."""
        ...


# ---------------------------------------------------------------- opaque secrets

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SECRET_BODY = re.compile(r"[0-9A-Za-z]{46}")  # 40 random + 6 checksum base62 characters


def _base62(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        out.append(_ALPHABET[rem])
    return "".join(reversed(out))


def new_secret(prefix: str, *, entropy_bytes: int = 30) -> str:
    """`<prefix>_<random base62><6-char CRC32 checksum>`, e.g. `keel_pat_…`. The checksum lets
    a malformed or truncated token be refused without a database read."""
    body = _base62(int.from_bytes(secrets.token_bytes(entropy_bytes), "big"), 40)
    return f"{prefix}_{body}{_checksum(body)}"


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), 6)


def secret_is_well_formed(token: str, prefix: str) -> bool:
    if not token.startswith(prefix + "_"):
        return False
    rest = token[len(prefix) + 1 :]
    if _SECRET_BODY.fullmatch(rest) is None:
        return False
    return hmac.compare_digest(_checksum(rest[:40]), rest[40:])


def display_prefix(token: str) -> str:
    """The non-secret part shown in listings: the type prefix plus 4 characters."""
    head, _, rest = token.rpartition("_")
    return f"{head}_{rest[:4]}"


def hash_secret(token: str, pepper: str) -> bytes:
    """Peppered HMAC-SHA-256: secrets are high-entropy, so no slow hash is needed."""
    return hmac.digest(pepper.encode(), token.encode(), "sha256")
