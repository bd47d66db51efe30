"""A relay with an outside `call` (payment providers): the call runs between claim and delivery
with no database connection held, once per batch, and its results reach the handler as
`row["outcome"]`; a `PermanentFailure` is `dead` at once, other failures are retried."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from platform_core.messaging.outbox import (
    OUTCOME,
    OutboxRelay,
    OutboxRelaySpec,
    OutboxRow,
    PermanentFailure,
    RelayTuning,
    RowFailures,
)
from platform_core.runtime.runtime import Runtime

TABLE = "public.outside_call_outbox"


@pytest.fixture
async def outbox(runtime: Runtime) -> AsyncIterator[None]:
    async with runtime.engine.begin() as conn:
        await conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
        await conn.execute(
            text(
                f"""CREATE TABLE {TABLE} (
                      id uuid PRIMARY KEY, body text NOT NULL, status text NOT NULL DEFAULT 'pending',
                      attempts int NOT NULL DEFAULT 0, next_attempt_at timestamptz NOT NULL DEFAULT now(),
                      lease_expires_at timestamptz, claimed_by uuid, last_error text,
                      delivered_at timestamptz)"""
            )
        )
    yield
    async with runtime.engine.begin() as conn:
        await conn.execute(text(f"DROP TABLE {TABLE}"))


async def add(runtime: Runtime, *bodies: str) -> list[uuid.UUID]:
    ids = sorted(uuid.uuid4() for _ in bodies)
    async with runtime.engine.begin() as conn:
        for row_id, body in zip(ids, bodies, strict=True):
            await conn.execute(
                text(f"INSERT INTO {TABLE} (id, body) VALUES (:id, :b)"), {"id": row_id, "b": body}
            )
    return ids


async def state(runtime: Runtime) -> dict[str, tuple[str, int, str | None]]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(text(f"SELECT body, status, attempts, last_error FROM {TABLE}"))
        return {r.body: (r.status, r.attempts, r.last_error) for r in rows}


class Provider:
    """Answers each body: 'ok' -> 'ok!', 'refuse' -> refused, 'down' -> unreachable."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.calls: list[str] = []
        self.connections_held: list[int] = []

    async def call(self, rows: Sequence[OutboxRow]) -> Mapping[uuid.UUID, Any]:
        self.connections_held.append(self.runtime.engine.pool.checkedout())  # type: ignore[attr-defined]
        self.calls.extend(row["body"] for row in rows)
        return {row["id"]: f"{row['body']}!" for row in rows}


async def handle(conn: AsyncConnection, rows: Sequence[OutboxRow]) -> RowFailures:
    failures: dict[uuid.UUID, str] = {}
    for row in rows:
        if row[OUTCOME] == "refuse!":
            failures[row["id"]] = PermanentFailure("the provider refused it")
        elif row[OUTCOME] == "down!":
            failures[row["id"]] = "no answer"
        elif row[OUTCOME] == "crash!":
            raise RuntimeError("the handler failed after the call")
    return failures


def relay(runtime: Runtime, provider: Provider) -> OutboxRelay:
    spec = OutboxRelaySpec(
        name="outside-call-test", table=TABLE, handler=handle, call=provider.call, delete_on_success=False,
        returning="o.id, o.body",
    )  # fmt: skip
    return OutboxRelay(
        runtime.engine, spec, RelayTuning(batch_size=10, max_attempts=5, backoff_base_seconds=0)
    )


@pytest.mark.usefixtures("outbox")
async def test_the_call_holds_no_connection_and_its_outcome_reaches_the_handler(runtime: Runtime) -> None:
    provider = Provider(runtime)
    await add(runtime, "ok", "refuse", "down")
    stats = await relay(runtime, provider).process_batch()
    assert (stats.delivered, stats.failed, stats.dead) == (1, 1, 1)
    assert provider.connections_held == [0]
    assert await state(runtime) == {
        "ok": ("delivered", 1, None),
        "refuse": ("dead", 1, "the provider refused it"),  # not retried up to max_attempts
        "down": ("failed", 1, "no answer"),
    }


@pytest.mark.usefixtures("outbox")
async def test_a_handler_failure_after_the_call_never_calls_again_in_that_batch(runtime: Runtime) -> None:
    provider = Provider(runtime)
    await add(runtime, "ok", "crash", "ok2")
    stats = await relay(runtime, provider).process_batch()
    assert sorted(provider.calls) == ["crash", "ok", "ok2"]  # isolating the failure did not call again
    assert (stats.delivered, stats.failed) == (2, 1)
    assert (await state(runtime))["crash"][:2] == ("failed", 1)
