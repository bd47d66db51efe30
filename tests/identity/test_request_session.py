"""An authenticated request resolves its credential, runs its guard and its handler on one
database session: one connection checkout, and no connection left behind on any outcome."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import event

from platform_core.runtime.runtime import Runtime
from tests.identity.conftest import Signer, bearer, make_person


@pytest.fixture
def checkouts(oidc_runtime: Runtime) -> Iterator[list[int]]:
    counted: list[int] = []

    def on_checkout(*_: object) -> None:
        counted.append(1)

    event.listen(oidc_runtime.engine.sync_engine, "checkout", on_checkout)
    yield counted
    event.remove(oidc_runtime.engine.sync_engine, "checkout", on_checkout)


async def test_one_checkout_per_authenticated_request(
    api: httpx.AsyncClient, oidc_runtime: Runtime, signer: Signer, checkouts: list[int]
) -> None:
    _, token = await make_person(oidc_runtime, "Once")
    jwt = signer.token(str(uuid.uuid4()))
    for headers in (bearer(token), bearer(jwt)):
        assert (await api.get("/identity/me", headers=headers)).status_code == 200  # warm: touch, sync
        checkouts.clear()
        for _ in range(5):
            assert (await api.get("/identity/me", headers=headers)).status_code == 200
        assert len(checkouts) == 5


async def test_no_connection_is_left_checked_out_whatever_the_outcome(
    api: httpx.AsyncClient, oidc_runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    person, token = await make_person(oidc_runtime, "Outcomes")
    other, _ = await make_person(oidc_runtime, "Other")
    calls = [
        ("GET", "/identity/me", bearer(token), None, 200),
        ("GET", f"/identity/persons/{other}", bearer(token), None, 404),  # guard refuses
        ("PATCH", f"/identity/persons/{person}", bearer(token), {"nope": 1}, 400),  # bad body
        ("POST", "/identity/persons", bearer(token), {"kind": "individual", "display_name": "x"}, 403),
        ("POST", f"/identity/persons/{person}/merge", admin_headers,
         {"target_person_id": str(person), "reason": "x"}, 422),
        ("GET", "/identity/me", {"Authorization": "Bearer keel_pat_nonsense"}, None, 401),
        ("GET", "/identity/me", bearer(token), None, 200),
    ]  # fmt: skip
    for method, path, headers, body, status in calls:
        r = await api.request(method, path, headers=headers, json=body)
        assert r.status_code == status, (path, r.text)
        assert oidc_runtime.engine.pool.checkedout() == 0, (method, path)  # type: ignore[attr-defined]
