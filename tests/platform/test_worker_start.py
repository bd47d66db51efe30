"""Starting a worker: one `Ticker` middleware carries every schedule (the outbox sweep and the
scheduled-jobs tick), so Dramatiq never warns about a middleware type added twice."""

from __future__ import annotations

import logging

import pytest

from modules.composition import build_runtime
from platform_core.core.config import Settings
from platform_core.messaging.broker import JOB_TICK_ACTOR, Ticker, drain_actor_name
from platform_core.runtime.worker import start_worker


async def test_starting_a_worker_adds_one_ticker_and_no_duplicate_middleware_warning(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = build_runtime(settings)  # a broker of its own: no earlier test's middleware on it
    caplog.set_level(logging.WARNING)
    worker = start_worker(runtime, threads=1)
    worker.stop()
    await runtime.dispose()

    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [m for m in warnings if "same type twice" in m], warnings
    (ticker,) = [m for m in runtime.broker.middleware if isinstance(m, Ticker)]
    scheduled = {name for schedule in ticker.schedules for name in schedule.actor_names}
    assert JOB_TICK_ACTOR in scheduled
    assert {drain_actor_name(spec.name) for spec in runtime.registry.relays} <= scheduled
