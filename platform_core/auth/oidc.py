"""OpenID Connect access-token (JWT) verification against an issuer's JSON Web Key Set.

Generic: it knows issuers, audiences and keys, not who the token's subject is in Keel. The
key set comes from a URL (Keycloak's `/protocol/openid-connect/certs`) or a file, is cached,
and is fetched again when a token names a key id (`kid`) the cache does not hold, which is how
a key rotation shows up. Those refreshes are coalesced and rate-limited, so a stream of forged
tokens with random `kid`s costs at most one fetch per `min_refresh_interval`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import httpx
import jwt
import msgspec

from platform_core.core.config import Settings

log = logging.getLogger(__name__)

# Asymmetric algorithms only: accepting HS* would let anyone holding the public key sign.
ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
MAX_TOKEN_LENGTH = 16 * 1024


class InvalidToken(Exception):
    """The token is not acceptable; `reason` is safe to log, never shown to the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JWKSet:
    """A cached key set, keyed by `kid`, loaded from `url` or `file`."""

    def __init__(
        self,
        *,
        url: str | None = None,
        file: str | Path | None = None,
        min_refresh_interval: float = 30.0,
        max_age: float = 3600.0,
        fetch_timeout: float = 5.0,
    ) -> None:
        if (url is None) == (file is None):
            raise ValueError("a JWKSet needs exactly one of url or file")
        self._url = url
        self._file = Path(file) if file is not None else None
        self._min_refresh_interval = min_refresh_interval
        self._max_age = max_age
        self._fetch_timeout = fetch_timeout
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded_at: float | None = None
        self._last_unknown_kid_refresh = float("-inf")
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many times the source was read (observable in tests and metrics)

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        if self._loaded_at is None or now - self._loaded_at > self._max_age:
            await self._refresh(reason="load", since=self._loaded_at)
            return self._keys.get(kid)  # just read: an unknown kid is not worth a second read
        key = self._keys.get(kid)
        if key is None:
            # the rate limit is checked under the lock: a refresh already in flight may bring it
            await self._refresh(reason="unknown kid", since=self._loaded_at)
            key = self._keys.get(kid)
        return key

    async def _refresh(self, *, reason: str, since: float | None) -> None:
        async with self._lock:
            if self._loaded_at != since:
                return  # another task refreshed while this one waited for the lock
            if reason == "unknown kid":
                now = time.monotonic()
                if now - self._last_unknown_kid_refresh < self._min_refresh_interval:
                    return
                self._last_unknown_kid_refresh = now
            try:
                document = await self._read()
                self._keys = _parse_jwks(document)
            except (OSError, httpx.HTTPError, ValueError, msgspec.DecodeError) as exc:
                # keep the keys already known: a flaky key endpoint must not log everyone out
                log.warning("JWKS refresh (%s) failed: %s", reason, exc)
                if self._loaded_at is None:
                    # nothing usable yet: try the initial load again after the refresh interval
                    # rather than on every request
                    self._loaded_at = time.monotonic() - self._max_age + self._min_refresh_interval
                return
            self._loaded_at = time.monotonic()

    async def _read(self) -> bytes:
        self.fetches += 1
        if self._file is not None:
            return await asyncio.to_thread(self._file.read_bytes)
        assert self._url is not None
        async with httpx.AsyncClient(timeout=self._fetch_timeout) as client:
            response = await client.get(self._url, headers={"Accept": "application/json"})
            response.raise_for_status()
            return response.content


def _parse_jwks(document: bytes) -> dict[str, jwt.PyJWK]:
    raw = msgspec.json.decode(document)
    if not isinstance(raw, dict) or not isinstance(raw.get("keys"), list):
        raise ValueError("a JWKS document is an object with a `keys` array")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in raw["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or "kid" not in entry:
            continue
        try:
            keys[str(entry["kid"])] = jwt.PyJWK(entry)
        except jwt.PyJWTError as exc:  # e.g. an algorithm this build cannot verify
            log.info("skipping JWK %s: %s", entry.get("kid"), exc)
    return keys


class OIDCVerifier:
    """Verifies signature, `exp`, `nbf`, `iss` and `aud` of access tokens from one issuer.

    A client sends the same access token with every request until it expires, so verified
    tokens are remembered (bounded, and at most `cache_seconds`, never past `exp`): a repeat
    costs a dictionary lookup instead of a signature check. Whether the subject may still act
    is for the caller to decide on every request."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: JWKSet,
        leeway: float = 10.0,
        algorithms: frozenset[str] = ALGORITHMS,
        cache_size: int = 4096,
        cache_seconds: float = 60.0,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys = keys
        self._leeway = leeway
        self._algorithms = algorithms
        self._cache_size = cache_size
        self._cache_seconds = cache_seconds
        self._verified: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or InvalidToken. Requires `sub`, `exp`, `iss` and `aud`."""
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None:
            if now < cached[0]:
                return dict(cached[1])
            del self._verified[token]
        claims = await self._verify(token)
        until = min(float(claims["exp"]), now + self._cache_seconds)
        if until > now and self._cache_size > 0:
            self._verified[token] = (until, claims)
            if len(self._verified) > self._cache_size:
                self._verified.popitem(last=False)  # the oldest entry
        return dict(claims)

    async def _verify(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("token too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed header: {exc}") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self._algorithms:
            raise InvalidToken(f"algorithm {alg!r} not accepted")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("no key id")
        key = await self.keys.key_for(kid)
        if key is None:
            raise InvalidToken(f"unknown key id {kid!r}")
        try:
            # a PyJWK is bound to one algorithm: a token claiming another one is refused
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken(str(exc)) from exc
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise InvalidToken("sub is not a non-empty string")
        return claims


_VERIFIERS: dict[tuple[str, str, str | None, str | None], OIDCVerifier] = {}


def verifier_for(settings: Settings) -> OIDCVerifier | None:
    """The process-wide verifier for these settings (so its key cache is shared), or None
    when OIDC is not configured."""
    if not settings.oidc_issuer or not settings.oidc_audience:
        return None
    if not settings.oidc_jwks_url and not settings.oidc_jwks_file:
        return None
    cache_key = (
        settings.oidc_issuer,
        settings.oidc_audience,
        settings.oidc_jwks_url,
        settings.oidc_jwks_file,
    )
    verifier = _VERIFIERS.get(cache_key)
    if verifier is None:
        keys = (
            JWKSet(url=settings.oidc_jwks_url)
            if settings.oidc_jwks_url
            else JWKSet(file=settings.oidc_jwks_file)
        )
        verifier = OIDCVerifier(issuer=settings.oidc_issuer, audience=settings.oidc_audience, keys=keys)
        _VERIFIERS[cache_key] = verifier
    return verifier
