"""Scheduled jobs: a due run is claimed once however many workers tick, outcomes are recorded,
a dead run is retried after its lease, and the declared interval is the timetable."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from platform_core.messaging.scheduler import ScheduledJob, Scheduler, UnknownJob
from platform_core.messaging.uow import UnitOfWorkFactory
from platform_core.runtime.runtime import Runtime


def job_name() -> str:
    return f"test.job_{uuid.uuid4().hex[:12]}"


class Counter:
    """A job body that counts its runs and takes a moment, so concurrent claims overlap."""

    def __init__(self) -> None:
        self.runs = 0

    async def __call__(self, uows: UnitOfWorkFactory) -> str:
        self.runs += 1
        async with uows() as uow:
            await uow.session.execute(text("SELECT pg_sleep(0.05)"))
        return f"run {self.runs}"


async def failing(uows: UnitOfWorkFactory) -> str:
    raise RuntimeError("the disk is full")


async def job_row(runtime: Runtime, name: str) -> dict:
    async with runtime.engine.connect() as conn:
        row = (
            await conn.execute(text("SELECT * FROM platform.scheduled_jobs WHERE name = :n"), {"n": name})
        ).one()
    return dict(row._mapping)


async def set_row(runtime: Runtime, name: str, assignments: str) -> None:
    async with runtime.engine.begin() as conn:
        statement = text(f"UPDATE platform.scheduled_jobs SET {assignments} WHERE name = :n")
        await conn.execute(statement, {"n": name})


async def test_a_due_job_runs_once_however_many_workers_tick(runtime: Runtime) -> None:
    counter = Counter()
    job = ScheduledJob(name=job_name(), every=timedelta(hours=1), run=counter, description="counts")
    workers = [Scheduler([job], runtime.uow) for _ in range(8)]

    outcomes = await asyncio.gather(*(w.run_due() for w in workers))

    assert counter.runs == 1
    assert sorted(len(o) for o in outcomes) == [0] * 7 + [1]
    row = await job_row(runtime, job.name)
    assert (row["runs"], row["failures"], row["last_outcome"]) == (1, 0, "succeeded")
    assert row["last_result"] == "run 1"
    assert row["running_since"] is None
    assert timedelta(minutes=59) < row["next_run_at"] - row["last_started_at"] <= timedelta(hours=1)

    assert await workers[0].run_due() == []  # not due again before its interval
    await set_row(runtime, job.name, "next_run_at = now() - interval '1 second'")
    (again,) = await workers[3].run_due()
    assert (again.succeeded, counter.runs) == (True, 2)


async def test_a_failure_is_recorded_and_does_not_stop_the_other_jobs(runtime: Runtime) -> None:
    counter = Counter()
    broken = ScheduledJob(name=job_name(), every=timedelta(minutes=5), run=failing, description="fails")
    healthy = ScheduledJob(name=job_name(), every=timedelta(minutes=5), run=counter, description="counts")

    outcomes = {o.name: o for o in await Scheduler([broken, healthy], runtime.uow).run_due()}

    assert outcomes[broken.name].succeeded is False
    assert outcomes[broken.name].result == "RuntimeError: the disk is full"
    assert outcomes[healthy.name].succeeded is True
    row = await job_row(runtime, broken.name)
    assert (row["runs"], row["failures"], row["last_outcome"], row["running_since"]) == (1, 1, "failed", None)
    assert row["last_result"] == "RuntimeError: the disk is full"


async def test_a_run_whose_worker_died_is_retried_only_after_its_lease(runtime: Runtime) -> None:
    counter = Counter()
    job = ScheduledJob(
        name=job_name(), every=timedelta(minutes=1), run=counter, description="", lease=timedelta(minutes=10)
    )
    scheduler = Scheduler([job], runtime.uow)
    await scheduler.declare()
    # another worker claimed it two minutes ago and is still within its lease
    await set_row(runtime, job.name, "running_since = now() - interval '2 minutes', next_run_at = now()")
    assert await scheduler.run_due() == []
    assert await scheduler.run_now(job.name) is None  # not even on demand
    assert counter.runs == 0

    await set_row(runtime, job.name, "running_since = now() - interval '11 minutes'")
    (outcome,) = await scheduler.run_due()
    assert (outcome.succeeded, counter.runs) == (True, 1)


async def test_run_now_ignores_the_timetable_and_claims_only_that_job(runtime: Runtime) -> None:
    first, second = Counter(), Counter()
    a = ScheduledJob(name=job_name(), every=timedelta(hours=1), run=first, description="")
    b = ScheduledJob(name=job_name(), every=timedelta(hours=1), run=second, description="")
    scheduler = Scheduler([a, b], runtime.uow)
    await scheduler.declare()
    await set_row(runtime, a.name, "next_run_at = now() + interval '50 minutes'")

    outcome = await scheduler.run_now(a.name)

    assert outcome is not None
    assert outcome.succeeded
    assert (first.runs, second.runs) == (1, 0)
    assert (await job_row(runtime, b.name))["running_since"] is None  # b was due but left alone
    with pytest.raises(UnknownJob):
        await scheduler.run_now("test.nobody")


async def test_a_shorter_interval_pulls_the_pending_run_forward(runtime: Runtime) -> None:
    name = job_name()
    daily = ScheduledJob(name=name, every=timedelta(days=1), run=Counter(), description="")
    await Scheduler([daily], runtime.uow).run_due()
    row = await job_row(runtime, name)
    assert row["next_run_at"] - row["last_started_at"] > timedelta(hours=23)

    hourly = ScheduledJob(name=name, every=timedelta(hours=1), run=Counter(), description="")
    await Scheduler([hourly], runtime.uow).declare()

    row = await job_row(runtime, name)
    assert row["every_seconds"] == 3600
    assert row["next_run_at"] - row["last_started_at"] < timedelta(hours=1, minutes=1)


def test_intervals_must_be_positive_and_names_unique(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="at least one second"):
        ScheduledJob(name=job_name(), every=timedelta(0), run=Counter(), description="")
    with pytest.raises(ValueError, match="at least one second"):
        ScheduledJob(name=job_name(), every=timedelta(1), run=Counter(), description="", lease=timedelta(0))
    job = ScheduledJob(name=job_name(), every=timedelta(minutes=1), run=Counter(), description="")
    with pytest.raises(ValueError, match="unique"):
        Scheduler([job, job], runtime.uow)
