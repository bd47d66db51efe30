"""platform_core.auth.oidc on its own: every claim check, and the key cache's refresh behaviour
against a real JWKS endpoint served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest

from platform_core.auth.oidc import InvalidToken, JWKSet, OIDCVerifier
from tests.identity.conftest import AUDIENCE, ISSUER, Signer, jwks_document


class JWKSServer:
    """Serves a JWKS document that a test can swap, and counts the requests."""

    def __init__(self, document: bytes) -> None:
        self.document = document
        self.requests = 0
        self.fail = False
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                if owner.fail:
                    self.send_response(503)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(owner.document)))
                self.end_headers()
                self.wfile.write(owner.document)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/certs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> JWKSServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks_server(signer: Signer) -> Iterator[JWKSServer]:
    with JWKSServer(jwks_document(signer)) as server:
        yield server


def verifier(keys: JWKSet, **kwargs: float) -> OIDCVerifier:
    return OIDCVerifier(issuer=ISSUER, audience=AUDIENCE, keys=keys, **kwargs)


async def test_a_valid_token_yields_its_claims(signer: Signer, jwks_file: Path) -> None:
    claims = await verifier(JWKSet(file=jwks_file)).verify(signer.token("alice"))
    assert claims["sub"] == "alice"
    assert claims["email"] == "alice@example.org"


class FromNow(int):
    """A time claim given in seconds from when the test runs (not from collection, which can be
    minutes earlier in a long suite)."""


@pytest.mark.parametrize(
    ("sub", "overrides", "reason"),
    [
        ("alice", {"exp": FromNow(-120)}, "expired"),
        ("alice", {"nbf": FromNow(120)}, "not yet valid"),
        ("alice", {"iss": "https://evil.test/realms/keel"}, "issuer"),
        ("alice", {"aud": "another-client"}, "audience"),
        ("alice", {"aud": None}, "aud"),
        ("alice", {"exp": None}, "exp"),
        (None, {}, "sub"),
        ("", {}, "sub"),
    ],
)
async def test_claim_checks(
    signer: Signer, jwks_file: Path, sub: str | None, overrides: dict[str, object], reason: str
) -> None:
    now = int(time.time())
    claims = {k: now + v if isinstance(v, FromNow) else v for k, v in overrides.items()}
    with pytest.raises(InvalidToken) as caught:
        await verifier(JWKSet(file=jwks_file)).verify(signer.token(sub, **claims))
    assert reason in caught.value.reason.lower() or reason in str(caught.value).lower()


async def test_a_signature_by_another_key_with_the_same_kid_is_refused(
    signer: Signer, jwks_file: Path
) -> None:
    impostor = Signer(kid=signer.kid)
    with pytest.raises(InvalidToken, match=r"[Ss]ignature"):
        await verifier(JWKSet(file=jwks_file)).verify(impostor.token("alice"))


async def test_a_tampered_payload_is_refused(signer: Signer, jwks_file: Path) -> None:
    header, _payload, signature = signer.token("alice").split(".")
    forged_payload = signer.token("mallory").split(".")[1]
    with pytest.raises(InvalidToken):
        await verifier(JWKSet(file=jwks_file)).verify(f"{header}.{forged_payload}.{signature}")


async def test_symmetric_and_unsigned_algorithms_are_refused(signer: Signer, jwks_file: Path) -> None:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": now + 60}
    # HS256 would let anyone who knows a shared or public value sign (key confusion)
    hs256 = jwt.encode(
        claims, "a-guessable-secret-of-32-bytes!!", algorithm="HS256", headers={"kid": signer.kid}
    )
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": signer.kid})
    for token in (hs256, unsigned):
        with pytest.raises(InvalidToken, match="algorithm"):
            await verifier(JWKSet(file=jwks_file)).verify(token)


async def test_a_token_claiming_another_algorithm_than_its_key_is_refused(
    signer: Signer, jwks_file: Path
) -> None:
    token = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": int(time.time()) + 60},
        signer.private_key,
        algorithm="PS256",
        headers={"kid": signer.kid},
    )
    with pytest.raises(InvalidToken):
        await verifier(JWKSet(file=jwks_file)).verify(token)


@pytest.mark.parametrize(
    "garbage", ["eyJ", "eyJhbGciOi", "eyJ.e30.", "eyJ" + "A" * 20000, "eyJhbGciOiJSUzI1NiJ9.x.y"]
)
async def test_garbage_is_refused_not_crashing(jwks_file: Path, garbage: str) -> None:
    with pytest.raises(InvalidToken):
        await verifier(JWKSet(file=jwks_file)).verify(garbage)


async def test_an_unknown_kid_triggers_exactly_one_refresh_then_is_rate_limited(
    signer: Signer, jwks_server: JWKSServer
) -> None:
    keys = JWKSet(url=jwks_server.url, min_refresh_interval=0.5)
    check = verifier(keys)
    await check.verify(signer.token("alice"))
    assert jwks_server.requests == 1
    await check.verify(signer.token("alice"))
    assert jwks_server.requests == 1, "known keys are served from the cache"

    rotated = Signer()
    jwks_server.document = jwks_document(signer, rotated)
    claims = await check.verify(rotated.token("bob"))
    assert claims["sub"] == "bob"
    assert jwks_server.requests == 2, "one refresh found the new key"

    stranger = Signer()
    for _ in range(3):
        with pytest.raises(InvalidToken, match="unknown key id"):
            await check.verify(stranger.token("eve"))
    assert jwks_server.requests == 2, "within the interval, unknown kids cause no further fetch"

    await asyncio.sleep(0.6)
    for _ in range(3):
        with pytest.raises(InvalidToken, match="unknown key id"):
            await check.verify(stranger.token("eve"))
    assert jwks_server.requests == 3, "after the interval, one refresh again, and only one"


async def test_concurrent_unknown_kids_share_one_refresh(signer: Signer, jwks_server: JWKSServer) -> None:
    keys = JWKSet(url=jwks_server.url, min_refresh_interval=60)
    check = verifier(keys)
    await check.verify(signer.token("alice"))
    rotated = Signer()
    jwks_server.document = jwks_document(signer, rotated)
    results = await asyncio.gather(*(check.verify(rotated.token(f"user{i}")) for i in range(10)))
    assert {c["sub"] for c in results} == {f"user{i}" for i in range(10)}
    assert jwks_server.requests == 2


async def test_an_unreachable_key_endpoint_refuses_tokens_and_keeps_known_keys(
    signer: Signer, jwks_server: JWKSServer
) -> None:
    keys = JWKSet(url=jwks_server.url, min_refresh_interval=0)
    check = verifier(keys)
    await check.verify(signer.token("alice"))
    jwks_server.fail = True
    with pytest.raises(InvalidToken, match="unknown key id"):
        await check.verify(Signer().token("eve"))
    assert (await check.verify(signer.token("alice")))["sub"] == "alice"

    cold = verifier(JWKSet(url="http://127.0.0.1:9/certs", fetch_timeout=1))
    with pytest.raises(InvalidToken, match="unknown key id"):
        await cold.verify(signer.token("alice"))


async def test_a_jwks_file_is_reread_for_an_unknown_kid(signer: Signer, tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_bytes(jwks_document(signer))
    keys = JWKSet(file=path, min_refresh_interval=0)
    check = verifier(keys)
    await check.verify(signer.token("alice"))
    rotated = Signer()
    path.write_bytes(jwks_document(rotated))
    assert (await check.verify(rotated.token("bob")))["sub"] == "bob"
    assert keys.fetches == 2


async def test_a_remembered_token_still_expires(signer: Signer, jwks_file: Path) -> None:
    check = verifier(JWKSet(file=jwks_file), leeway=0)
    token = signer.token("alice", exp=int(time.time()) + 1)
    assert (await check.verify(token))["sub"] == "alice"
    assert (await check.verify(token))["sub"] == "alice"
    await asyncio.sleep(2.1)
    with pytest.raises(InvalidToken, match="expired"):
        await check.verify(token)


async def test_a_remembered_token_is_a_copy_and_the_memory_is_bounded(
    signer: Signer, jwks_file: Path
) -> None:
    check = OIDCVerifier(issuer=ISSUER, audience=AUDIENCE, keys=JWKSet(file=jwks_file), cache_size=2)
    tokens = [signer.token(f"user{i}") for i in range(3)]
    for token in tokens:
        (await check.verify(token))["sub"] = "tampered"
    assert (await check.verify(tokens[2]))["sub"] == "user2"
    assert len(check._verified) == 2
