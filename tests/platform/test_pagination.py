"""Keyset pagination through a real list route (/audit/logs) and the cursor codec itself."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import BigInteger, Column, Integer, MetaData, SmallInteger, Table, Text, select, text

from platform_core.core.errors import InvalidRequest
from platform_core.messaging.outbox import OutboxRelay
from platform_core.persistence.pagination import (
    MAX_LIMIT,
    check_limit,
    decode_cursor,
    encode_cursor,
    keyset,
    page_of,
)
from platform_core.runtime.runtime import Runtime
from tests.platform.test_http_errors import assert_problem

ACTION = "identity.person.created"


async def drain_audit(runtime: Runtime) -> None:
    (spec,) = [s for s in runtime.registry.relays if s.name == "audit"]
    await OutboxRelay(runtime.engine, spec, runtime.tuning).drain()


async def walk(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, Any]
) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/audit/logs", params=query, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        pages += 1
        assert len(page["items"]) <= params["limit"]
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 1000, "pagination does not terminate"


async def test_limit_2_walks_every_page_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    created = []
    for i in range(7):
        r = await client.post(
            "/identity/persons",
            json={"kind": "individual", "display_name": f"Page {i}"},
            headers=admin_headers,
        )
        assert r.status_code == 201
        created.append(r.json()["id"])
    await drain_audit(runtime)

    items, pages = await walk(client, admin_headers, {"limit": 2, "action": ACTION})
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)), "a record appeared on two pages"
    assert ids == sorted(ids, reverse=True), "pages are not in newest-first order"
    async with runtime.engine.connect() as conn:
        expected = (
            (
                await conn.execute(
                    text("SELECT id FROM audit.audit_logs WHERE action = :a ORDER BY id DESC"), {"a": ACTION}
                )
            )
            .scalars()
            .all()
        )
    assert ids == list(expected)
    assert set(created) <= {item["target"]["id"] for item in items}
    assert pages == -(-len(ids) // 2), "a full last page must not announce an empty next page"


async def test_last_page_has_no_cursor(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    r = await client.get(
        "/audit/logs", params={"limit": MAX_LIMIT, "action": "no.such.action"}, headers=admin_headers
    )
    assert r.status_code == 200
    assert r.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "e30",  # {} : not a list
        base64.urlsafe_b64encode(b'["x"]').decode(),  # wrong type
        base64.urlsafe_b64encode(b"[1, 2]").decode(),  # wrong arity
        base64.urlsafe_b64encode(b"[9223372036854775808]").decode(),  # beyond BIGINT: not a 500
        base64.urlsafe_b64encode(b"[-99999999999999999999]").decode(),
        base64.urlsafe_b64encode(b"[null]").decode(),
        "%%%",
    ],
)
async def test_garbage_cursor_is_400(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cursor: str
) -> None:
    r = await client.get("/audit/logs", params={"limit": 2, "cursor": cursor}, headers=admin_headers)
    assert_problem(r, 400, "invalid_cursor")


@pytest.mark.parametrize("limit", ["0", "-1", str(MAX_LIMIT + 1), "1000"])
async def test_limit_out_of_range_is_400(
    client: httpx.AsyncClient, admin_headers: dict[str, str], limit: str
) -> None:
    r = await client.get("/audit/logs", params={"limit": limit}, headers=admin_headers)
    body = assert_problem(r, 400, "invalid_request")
    assert [e["field"] for e in body["errors"]] == ["limit"]


def test_check_limit_bounds() -> None:
    assert check_limit(None) > 0
    assert check_limit(1) == 1
    assert check_limit(MAX_LIMIT) == MAX_LIMIT
    for bad in (0, -5, MAX_LIMIT + 1):
        with pytest.raises(InvalidRequest):
            check_limit(bad)


ITEMS = Table(
    "items",
    MetaData(),
    Column("id", BigInteger, primary_key=True),
    Column("rank", Integer),
    Column("level", SmallInteger),
    Column("key", Text),
)


@pytest.mark.parametrize(
    ("column", "fits", "overflows"),
    [
        (ITEMS.c.id, 2**63 - 1, 2**63),
        (ITEMS.c.id, -(2**63), -(2**63) - 1),
        (ITEMS.c.rank, 2**31 - 1, 2**31),
        (ITEMS.c.level, -(2**15), -(2**15) - 1),
    ],
)
def test_cursor_integers_must_fit_their_column(column: Any, fits: int, overflows: int) -> None:
    assert decode_cursor(encode_cursor([fits]), [column]) == [fits]
    with pytest.raises(InvalidRequest):
        decode_cursor(encode_cursor([overflows]), [column])


def test_cursor_text_may_not_hold_nul() -> None:
    with pytest.raises(InvalidRequest):
        decode_cursor(encode_cursor(["a\x00b"]), [ITEMS.c.key])


def test_cursor_round_trips_typed_values() -> None:
    columns = [ITEMS.c.key, ITEMS.c.id]
    assert decode_cursor(encode_cursor(["b", 42]), columns) == ["b", 42]
    key = str(uuid.uuid4())
    assert decode_cursor(encode_cursor([key, 7]), columns) == [key, 7]
    with pytest.raises(InvalidRequest):
        decode_cursor(encode_cursor([7, "b"]), columns)


def test_keyset_fetches_one_extra_row_and_pages_end_cleanly() -> None:
    stmt = keyset(select(ITEMS), [ITEMS.c.id], cursor=encode_cursor([10]), limit=3)
    sql = str(stmt.compile(compile_kwargs={"literal_binds": True}))
    assert "items.id > 10" in sql.replace("(", "").replace(")", "")
    assert "LIMIT 4" in sql

    rows = [{"id": n} for n in (11, 12, 13, 14)]
    page = page_of(rows, 3, key_of=lambda r: [r["id"]])
    assert [r["id"] for r in page.items] == [11, 12, 13]
    assert page.next_cursor is not None
    assert decode_cursor(page.next_cursor, [ITEMS.c.id]) == [13]
    last = page_of(rows[:2], 3, key_of=lambda r: [r["id"]])
    assert last.next_cursor is None
