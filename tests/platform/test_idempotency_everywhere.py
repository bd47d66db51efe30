"""Every POST honours `Idempotency-Key` (or says why not), and no secret is stored in clear.

The mechanism is one code path (platform_core.http.idempotency, called by the unit-of-work
dependency), so the first test proves the wiring of every POST route of the app: it is honoured
or exempt with a reason, it takes the unit of work, and it returns data rather than a Response
object (whose bytes the mechanism could not store). The others replay the routes the issue
named, and read the stored rows raw: the secrets those creates return are not in them."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from litestar import Litestar, Response
from litestar.routes import HTTPRoute
from sqlalchemy import text

from platform_core.http.idempotency import EXEMPT, HEADER, REPLAYED_HEADER, honours_key
from platform_core.messaging.idempotency_keys import UnreadableResponse, open_response, seal_response
from platform_core.runtime.runtime import Runtime
from tests.support.problems import assert_problem

# POST routes that ignore Idempotency-Key, and why (reads answer the same every time; a
# provider's redelivery is recognised by its event id, and providers send no such header)
EXPECTED_EXEMPT = {
    "/entitlements/check",
    "/orgs/{org_id:uuid}/authz/check",
    "/integration/webhooks/{provider:str}",
}


def post_routes(app: Litestar) -> list[tuple[str, Any]]:
    return [
        (route.path, handler)
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for method, (handler, _) in route.route_handler_map.items()
        if method == "POST"
    ]


def test_every_post_route_honours_the_key_or_says_why_not(app: Litestar) -> None:
    routes = post_routes(app)
    assert len(routes) > 40
    exempt = set()
    for path, handler in routes:
        if not honours_key(handler):
            reason = handler.opt.get(EXEMPT)
            assert isinstance(reason, str), f"POST {path} ignores the key silently"
            assert len(reason) > 10, f"POST {path}: say why it ignores the key"
            exempt.add(path)
            continue
        params = handler.parsed_fn_signature.parameters
        assert "uow" in params, f"POST {path} honours the key but takes no unit of work to claim it in"
        returned = handler.parsed_fn_signature.return_type.annotation
        assert not (isinstance(returned, type) and issubclass(returned, Response)), (
            f"POST {path} returns a Response object: return the data so a replay can store it"
        )
    assert exempt == EXPECTED_EXEMPT


async def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def _org(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    org = await _ok(
        await client.post("/organizations", json={"slug": _unique("idem"), "name": "Idem"}, headers=headers)
    )
    return str(org["id"])


async def _product(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    key = f"idem.{uuid.uuid4().hex[:8]}"
    body = {"key": key, "name": key, "kind": "numeric", "aggregation": "SUM"}
    await _ok(await client.post("/entitlements/resource-keys", json=body, headers=headers))
    rules = [{"resource_key": key, "rule_type": "limit", "amount": 10}]
    es = await _ok(
        await client.post(
            "/entitlements/sets",
            json={"key": _unique("idem.set"), "name": "s", "rules": rules},
            headers=headers,
        )
    )
    product = {"key": _unique("idem-product"), "name": "Idem", "entitlement_set_key": es["key"]}
    return str((await _ok(await client.post("/billing/products", json=product, headers=headers)))["id"])


async def _coupon(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    body = {"key": _unique("idem-coupon"), "name": "Idem", "percent_off_bp": 1000}
    return str((await _ok(await client.post("/billing/coupons", json=body, headers=headers)))["id"])


async def _service_account(client: httpx.AsyncClient, headers: dict[str, str], org: str) -> str:
    body = {"name": "idem"}
    sa = await _ok(await client.post(f"/orgs/{org}/service-accounts", json=body, headers=headers))
    return str(sa["id"])


async def _member_role(client: httpx.AsyncClient, headers: dict[str, str], org: str) -> str:
    roles = await _ok(await client.get(f"/orgs/{org}/roles", headers=headers))
    return str(next(r["id"] for r in roles["items"] if r["key"] == "member"))


Request = tuple[str, dict[str, Any]]
Setup = Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[Request]]


async def price(client: httpx.AsyncClient, headers: dict[str, str]) -> Request:
    product = await _product(client, headers)
    return f"/billing/products/{product}/prices", {"currency": "EUR", "unit_amount": 990, "interval": "month"}


async def personal_token(client: httpx.AsyncClient, headers: dict[str, str]) -> Request:
    return "/identity/me/tokens", {"name": _unique("idem"), "scopes": ["identity.persons:read"]}


async def coupon(client: httpx.AsyncClient, headers: dict[str, str]) -> Request:
    return "/billing/coupons", {"key": _unique("idem-coupon"), "name": "Idem", "percent_off_bp": 500}


async def promotion_code(client: httpx.AsyncClient, headers: dict[str, str]) -> Request:
    coupon_id = await _coupon(client, headers)
    return f"/billing/coupons/{coupon_id}/promotion-codes", {"code": f"IDEM{uuid.uuid4().hex[:8]}"}


async def legal_hold(client: httpx.AsyncClient, headers: dict[str, str]) -> Request:
    # on an organization of its own: a hold without one would keep every record of every test
    org = await _org(client, headers)
    return "/audit/legal-holds", {"org_id": org, "reason": "litigation " + uuid.uuid4().hex[:6]}


async def service_account_key(client: httpx.AsyncClient, headers: dict[str, str]) -> Request:
    org = await _org(client, headers)
    account = await _service_account(client, headers, org)
    return f"/orgs/{org}/service-accounts/{account}/keys", {"name": "ci"}


async def webhook_endpoint(client: httpx.AsyncClient, headers: dict[str, str]) -> Request:
    org = await _org(client, headers)
    return f"/integration/orgs/{org}/webhook-endpoints", {
        "url": "https://hooks.example.test/keel",
        "event_types": ["*"],
    }


async def invitation(client: httpx.AsyncClient, headers: dict[str, str]) -> Request:
    org = await _org(client, headers)
    role = await _member_role(client, headers, org)
    return f"/orgs/{org}/invitations", {"email": f"{uuid.uuid4().hex[:10]}@example.test", "role_id": role}


@pytest.mark.parametrize(
    "setup",
    [
        price,
        personal_token,
        coupon,
        promotion_code,
        legal_hold,
        service_account_key,
        webhook_endpoint,
        invitation,
    ],
)
async def test_the_same_key_creates_once_and_replays(
    setup: Setup, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    url, body = await setup(client, admin_headers)
    headers = {**admin_headers, HEADER: uuid.uuid4().hex}
    first = await client.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert REPLAYED_HEADER not in first.headers
    second = await client.post(url, json=body, headers=headers)
    assert second.status_code == 201, second.text
    assert second.headers[REPLAYED_HEADER] == "true"
    assert second.json() == first.json(), "a replay is the first answer, not a second creation"
    third = await client.post(url, json=body, headers={**admin_headers, HEADER: uuid.uuid4().hex})
    if third.status_code == 201:  # some creates refuse a second identical thing (409): fine too
        assert third.json() != first.json()


async def _stored_row(runtime: Runtime, key: str) -> tuple[int, bytes]:
    async with runtime.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT status_code, response_body FROM platform.idempotency_keys WHERE key = :k"),
                {"k": key},
            )
        ).one()
    return int(row.status_code), bytes(row.response_body)


@pytest.mark.parametrize(
    ("setup", "secret_field"),
    [
        (service_account_key, "token"),
        (personal_token, "token"),
        (webhook_endpoint, "secret"),
        (invitation, "token"),
    ],
)
async def test_stored_responses_hold_no_secret_in_clear_and_still_replay_it(
    setup: Setup,
    secret_field: str,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    runtime: Runtime,
) -> None:
    url, body = await setup(client, admin_headers)
    key = uuid.uuid4().hex
    headers = {**admin_headers, HEADER: key}
    first = await _ok(await client.post(url, json=body, headers=headers))
    secret = _find(first, secret_field)
    assert isinstance(secret, str), first
    assert len(secret) >= 16, first

    status, stored = await _stored_row(runtime, key)
    assert status == 201
    assert secret.encode() not in stored
    assert secret[-12:].encode() not in stored
    assert b'"id"' not in stored, "the stored response is readable JSON"

    replay = await client.post(url, json=body, headers=headers)
    assert replay.headers[REPLAYED_HEADER] == "true"
    assert _find(replay.json(), secret_field) == secret, "the retrying client gets its secret back"


def _find(body: Any, field: str) -> Any:
    """`field` at the top of `body` or one object down (e.g. the invitation's token)."""
    if field in body:
        return body[field]
    for value in body.values():
        if isinstance(value, dict) and field in value:
            return value[field]
    raise AssertionError(f"no {field!r} in {body}")


async def test_a_stored_response_under_another_pepper_is_a_409_not_a_rerun(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    url, body = await coupon(client, admin_headers)
    key = uuid.uuid4().hex
    headers = {**admin_headers, HEADER: key}
    await _ok(await client.post(url, json=body, headers=headers))
    _, stored = await _stored_row(runtime, key)
    owner = await _owner_of(runtime, key)
    resealed = seal_response("another-pepper", owner, key, b'{"id": "x"}')
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text("UPDATE platform.idempotency_keys SET response_body = :b WHERE key = :k"),
            {"b": resealed, "k": key},
        )
    assert_problem(await client.post(url, json=body, headers=headers), 409, "idempotency_key_unreadable")
    async with runtime.engine.begin() as conn:  # put the real one back: a replay again
        await conn.execute(
            text("UPDATE platform.idempotency_keys SET response_body = :b WHERE key = :k"),
            {"b": stored, "k": key},
        )
    assert (await client.post(url, json=body, headers=headers)).headers[REPLAYED_HEADER] == "true"


async def _owner_of(runtime: Runtime, key: str) -> str:
    async with runtime.engine.connect() as conn:
        owner = await conn.execute(
            text("SELECT owner FROM platform.idempotency_keys WHERE key = :k"), {"k": key}
        )
        return str(owner.scalar_one())


def test_a_sealed_response_opens_only_for_its_own_row_and_pepper() -> None:
    sealed = seal_response("pepper", "person:1", "key-1", b'{"token": "keel_pat_secret"}')
    assert b"keel_pat_secret" not in sealed
    assert open_response("pepper", "person:1", "key-1", sealed) == b'{"token": "keel_pat_secret"}'
    assert seal_response("pepper", "person:1", "key-1", b"x") != seal_response(
        "pepper", "person:1", "key-1", b"x"
    )
    for pepper, owner, key in [
        ("other", "person:1", "key-1"),
        ("pepper", "person:2", "key-1"),
        ("pepper", "person:1", "key-2"),
    ]:
        with pytest.raises(UnreadableResponse):
            open_response(pepper, owner, key, sealed)
    with pytest.raises(UnreadableResponse):
        open_response("pepper", "person:1", "key-1", b'{"token": "stored before sealing"}')
