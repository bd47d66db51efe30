"""identity's fixtures: a locally generated RSA signing key published as a JWKS file, a runtime
and HTTP client configured to trust it (OIDC), and helpers to make persons with tokens."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from modules.composition import build_runtime
from modules.identity import api as identity_api
from platform_core.core.config import Settings
from platform_core.http.app import create_app
from platform_core.messaging.outbox import OutboxRelay
from platform_core.runtime.runtime import Runtime

ISSUER = "https://keycloak.test/realms/keel"
AUDIENCE = "keel-api"


class Signer:
    """Signs JWTs like Keycloak would, with one RSA key named `kid`."""

    def __init__(self, kid: str | None = None) -> None:
        self.kid = kid or f"key-{uuid.uuid4().hex[:8]}"
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def token(self, sub: str | None, *, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": sub,
            "iat": now,
            "exp": now + 300,
            "typ": "Bearer",
            "email": f"{sub}@example.org",
            "email_verified": True,
            "name": f"User {sub}",
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(
            claims, self.private_key, algorithm="RS256", headers={"kid": self.kid, **(headers or {})}
        )


def jwks_document(*signers: Signer) -> bytes:
    return json.dumps({"keys": [s.jwk() for s in signers]}).encode()


@pytest.fixture(scope="session")
def signer() -> Signer:
    return Signer()


@pytest.fixture(scope="session")
def jwks_file(tmp_path_factory: pytest.TempPathFactory, signer: Signer) -> Path:
    path = Path(tmp_path_factory.mktemp("jwks")) / "jwks.json"
    path.write_bytes(jwks_document(signer))
    return path


@pytest.fixture(scope="session")
def oidc_settings(settings: Settings, jwks_file: Path) -> Settings:
    return msgspec.structs.replace(
        settings, oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_file=str(jwks_file)
    )


@pytest.fixture(scope="session")
async def oidc_runtime(oidc_settings: Settings) -> AsyncIterator[Runtime]:
    rt = build_runtime(oidc_settings)
    yield rt
    await rt.dispose()


def client_for(runtime: Runtime) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(
        app=create_app(runtime), raise_app_exceptions=False, client=("127.0.0.1", 40000)
    )
    return httpx.AsyncClient(transport=transport, base_url="http://keel.test")


@pytest.fixture(scope="session")
async def api(oidc_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on an app that trusts `signer`'s tokens (and PATs, like every app)."""
    async with client_for(oidc_runtime) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_person(
    runtime: Runtime, name: str = "Someone", *, scopes: list[str] | None = None
) -> tuple[uuid.UUID, str]:
    """A new person and a personal access token for them."""
    async with runtime.uow() as uow:
        person = await identity_api.create_person(
            uow, kind="individual", display_name=name, email=f"{uuid.uuid4().hex[:8]}@example.org"
        )
        issued = await identity_api.issue_token(uow, person_id=person.id, name=name, scopes=scopes or ["*"])
    return person.id, issued.token


async def drain_audit(runtime: Runtime) -> None:
    (spec,) = [s for s in runtime.registry.relays if s.name == "audit"]
    await OutboxRelay(runtime.engine, spec, runtime.tuning).drain()


async def audit_records(
    client: httpx.AsyncClient, admin_headers: dict[str, str], **params: str
) -> list[dict[str, Any]]:
    r = await client.get("/audit/logs", params={"limit": "500", **params}, headers=admin_headers)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    if code is not None:
        assert body["code"] == code, body
    return body
