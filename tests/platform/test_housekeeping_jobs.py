"""The kernel's own scheduled job, and the worker running due jobs through Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

from sqlalchemy import text

from platform_core.runtime.runtime import Runtime
from platform_core.runtime.worker import start_worker

POLL_SECONDS = 15
PURGE = "platform.purge_idempotency_keys"
KEY_EXISTS = text("SELECT 1 FROM platform.idempotency_keys WHERE owner = :o")


async def insert_key(runtime: Runtime, age: timedelta) -> str:
    owner = f"test:{uuid.uuid4()}"
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO platform.idempotency_keys (owner, key, method, path, request_hash, created_at)"
                " VALUES (:o, 'k', 'POST', '/x', '\\x00', now() - CAST(:age AS interval))"
            ),
            {"o": owner, "age": age},
        )
    return owner


async def key_exists(runtime: Runtime, owner: str) -> bool:
    async with runtime.engine.connect() as conn:
        found = await conn.execute(KEY_EXISTS, {"o": owner})
        return found.first() is not None


async def test_purge_deletes_only_keys_past_their_ttl(runtime: Runtime) -> None:
    expired = [await insert_key(runtime, timedelta(hours=25)) for _ in range(3)]
    recent = await insert_key(runtime, timedelta(hours=23))

    outcome = await runtime.scheduler.run_now(PURGE)

    assert outcome is not None
    assert outcome.succeeded, outcome
    assert outcome.result.startswith("purged ")
    assert outcome.result != "purged 0 expired idempotency key(s)"
    assert [await key_exists(runtime, o) for o in expired] == [False] * 3
    assert await key_exists(runtime, recent)


async def test_a_running_worker_runs_due_jobs_on_its_own(runtime: Runtime) -> None:
    """No run_now here: the worker's tick (through Redis) claims the due job."""
    expired = await insert_key(runtime, timedelta(days=2))
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE platform.scheduled_jobs SET next_run_at = now() - interval '1 second'"
                " WHERE name = 'platform.purge_idempotency_keys'"
            )
        )
        runs_before = (
            await conn.execute(text("SELECT runs FROM platform.scheduled_jobs WHERE name = :n"), {"n": PURGE})
        ).scalar_one()

    worker = start_worker(runtime, threads=1)
    try:
        deadline = time.monotonic() + POLL_SECONDS
        while await key_exists(runtime, expired):
            assert time.monotonic() < deadline, "the worker did not run the due purge"
            await asyncio.sleep(0.2)
    finally:
        worker.stop()
    async with runtime.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT runs, last_outcome, next_run_at > now() + interval '50 minutes' AS rescheduled"
                    " FROM platform.scheduled_jobs WHERE name = 'platform.purge_idempotency_keys'"
                )
            )
        ).one()
    assert row.runs > runs_before
    assert (row.last_outcome, row.rescheduled) == ("succeeded", True)
