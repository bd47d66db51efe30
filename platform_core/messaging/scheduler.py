"""Scheduled jobs: housekeeping that modules declare and workers run on a timetable.

Every worker ticks (see `platform_core.messaging.broker.Ticker`); a tick claims the due jobs with one
`UPDATE … RETURNING` on `platform.scheduled_jobs` that moves each claimed job's next run
forward and marks it running. However many workers tick, a due run is claimed once. A run
whose worker died is claimed again once its lease has passed, so a job must be safe to run
twice (every Keel job is a catch-up: it does what is due and stops).

A job gets a unit-of-work factory and opens as many units of work as it needs (one per batch),
so a long catch-up never holds one long transaction. It returns a one-line summary, stored
with the outcome for `keel jobs list`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Integer,
    Table,
    Text,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from platform_core.messaging.uow import UnitOfWork, UnitOfWorkFactory
from platform_core.persistence.db import METADATA

log = logging.getLogger(__name__)

SCHEDULED_JOBS = Table(
    "scheduled_jobs",
    METADATA,
    Column("name", Text, primary_key=True),
    Column("every_seconds", Integer, nullable=False),
    Column("lease_seconds", Integer, nullable=False),
    Column("next_run_at", DateTime(timezone=True), nullable=False),
    Column("running_since", DateTime(timezone=True)),
    Column("last_started_at", DateTime(timezone=True)),
    Column("last_finished_at", DateTime(timezone=True)),
    Column("last_outcome", Text),
    Column("last_result", Text),
    Column("runs", BigInteger, nullable=False, server_default=text("0")),
    Column("failures", BigInteger, nullable=False, server_default=text("0")),
    CheckConstraint("every_seconds > 0", name="every_positive"),
    CheckConstraint("lease_seconds > 0", name="lease_positive"),
    CheckConstraint("last_outcome IN ('succeeded', 'failed')", name="last_outcome"),
    schema="platform",
)

JobFunction = Callable[[UnitOfWorkFactory], Awaitable[str]]
BatchStep = Callable[[UnitOfWork], Awaitable[int]]
MAX_RESULT_LENGTH = 1000


@dataclass(frozen=True)
class ScheduledJob:
    name: str  # "<module>.<what>", e.g. "entitlements.rematerialize"
    every: timedelta
    run: JobFunction
    description: str
    lease: timedelta = timedelta(minutes=15)  # a run still marked running after this is retried

    def __post_init__(self) -> None:
        if self.every < timedelta(seconds=1) or self.lease < timedelta(seconds=1):
            raise ValueError(f"{self.name}: a job's interval and lease must be at least one second")


@dataclass(frozen=True)
class JobOutcome:
    name: str
    succeeded: bool
    result: str


@dataclass(frozen=True)
class JobStatus:
    name: str
    every: timedelta
    next_run_at: datetime
    running_since: datetime | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_outcome: str | None
    last_result: str | None
    runs: int
    failures: int


class UnknownJob(LookupError):
    pass


async def in_batches(uows: UnitOfWorkFactory, step: BatchStep, batch_size: int) -> int:
    """Run `step` (which handles up to `batch_size` items) in one unit of work after another
    until a batch comes back short; the total handled."""
    total = 0
    while True:
        async with uows() as uow:
            done = await step(uow)
        total += done
        if done < batch_size:
            return total


def batched_job(
    name: str, every: timedelta, step: BatchStep, batch_size: int, *, summary: str, description: str
) -> ScheduledJob:
    """A job that runs `step` `in_batches` and reports the total through `summary`, a format
    string with one `{}` (e.g. "purged {} old deliveries")."""

    async def run(uows: UnitOfWorkFactory) -> str:
        return summary.format(await in_batches(uows, step, batch_size))

    return ScheduledJob(name=name, every=every, run=run, description=description)


# A new job runs at the first tick; a changed interval takes effect from the next claim, and a
# shortened one also pulls the pending run forward.
_DECLARE = text(
    """INSERT INTO platform.scheduled_jobs AS j (name, every_seconds, lease_seconds, next_run_at)
       SELECT name, every_seconds, lease_seconds, now()
         FROM unnest(CAST(:names AS text[]), CAST(:every AS integer[]), CAST(:lease AS integer[]))
              AS d(name, every_seconds, lease_seconds)
       ON CONFLICT (name) DO UPDATE
          SET every_seconds = EXCLUDED.every_seconds, lease_seconds = EXCLUDED.lease_seconds,
              next_run_at = LEAST(j.next_run_at, now() + make_interval(secs => EXCLUDED.every_seconds))"""
)

_CLAIM_DUE = text(
    """UPDATE platform.scheduled_jobs
          SET next_run_at = now() + make_interval(secs => every_seconds),
              running_since = now(), last_started_at = now()
        WHERE name = ANY(CAST(:names AS text[]))
          AND CASE WHEN CAST(:forced AS text) IS NULL THEN next_run_at <= now() ELSE name = :forced END
          AND (running_since IS NULL OR running_since < now() - make_interval(secs => lease_seconds))
       RETURNING name"""
)

_BRING_FORWARD = text(
    "UPDATE platform.scheduled_jobs SET next_run_at = now() WHERE name = :name AND next_run_at > now()"
)


async def run_soon(conn: AsyncConnection, name: str) -> None:
    """Make the job `name` due now, when this transaction commits: the next tick of any worker
    runs it (for work a relay hands over to a job, without waiting for the job's timetable)."""
    await conn.execute(_BRING_FORWARD, {"name": name})


_RECORD = text(
    """UPDATE platform.scheduled_jobs
          SET running_since = NULL, last_finished_at = now(), last_outcome = :outcome,
              last_result = :result, runs = runs + 1,
              failures = failures + CASE WHEN :outcome = 'failed' THEN 1 ELSE 0 END
        WHERE name = :name"""
)

_STATUSES = text(
    """SELECT name, every_seconds, next_run_at, running_since, last_started_at, last_finished_at,
              last_outcome, last_result, runs, failures
         FROM platform.scheduled_jobs WHERE name = ANY(CAST(:names AS text[])) ORDER BY name"""
)


class Scheduler:
    """The declared jobs, run through one unit-of-work factory (one per event loop)."""

    def __init__(self, jobs: Sequence[ScheduledJob], uows: UnitOfWorkFactory) -> None:
        self.jobs = {job.name: job for job in jobs}
        if len(self.jobs) != len(jobs):
            raise ValueError("scheduled job names must be unique")
        self.uows = uows
        self._declared = False

    async def declare(self) -> None:
        """Make sure every declared job has its row (once per scheduler; idempotent)."""
        if self._declared or not self.jobs:
            return
        jobs = list(self.jobs.values())
        params = {
            "names": [j.name for j in jobs],
            "every": [int(j.every.total_seconds()) for j in jobs],
            "lease": [int(j.lease.total_seconds()) for j in jobs],
        }
        async with self.uows.sessionmaker() as session, session.begin():
            await session.execute(_DECLARE, params)
        self._declared = True

    async def run_due(self) -> list[JobOutcome]:
        """Claim and run every job whose time has come (none if another worker claimed it)."""
        return [await self._run(name) for name in await self._claim(forced=None)]

    async def run_now(self, name: str) -> JobOutcome | None:
        """Run `name` now whatever its timetable; None when another worker is running it."""
        if name not in self.jobs:
            raise UnknownJob(name)
        claimed = await self._claim(forced=name)
        return await self._run(name) if name in claimed else None

    async def statuses(self) -> list[JobStatus]:
        await self.declare()
        async with self.uows.sessionmaker() as session:
            rows = (await session.execute(_STATUSES, {"names": list(self.jobs)})).all()
        return [
            JobStatus(
                name=r.name,
                every=timedelta(seconds=r.every_seconds),
                next_run_at=r.next_run_at,
                running_since=r.running_since,
                last_started_at=r.last_started_at,
                last_finished_at=r.last_finished_at,
                last_outcome=r.last_outcome,
                last_result=r.last_result,
                runs=r.runs,
                failures=r.failures,
            )
            for r in rows
        ]

    async def _claim(self, *, forced: str | None) -> list[str]:
        await self.declare()
        if not self.jobs:
            return []
        async with self.uows.sessionmaker() as session, session.begin():
            claimed = await session.scalars(_CLAIM_DUE, {"names": list(self.jobs), "forced": forced})
            return list(claimed.all())

    async def _run(self, name: str) -> JobOutcome:
        try:
            result = await self.jobs[name].run(self.uows)
            outcome = JobOutcome(name, True, result)
            log.info("scheduled job %s succeeded: %s", name, result)
        except Exception as exc:
            log.exception("scheduled job %s failed", name)
            outcome = JobOutcome(name, False, f"{type(exc).__name__}: {exc}")
        async with self.uows.sessionmaker() as session, session.begin():
            await session.execute(
                _RECORD,
                {
                    "name": name,
                    "outcome": "succeeded" if outcome.succeeded else "failed",
                    "result": outcome.result[:MAX_RESULT_LENGTH],
                },
            )
        return outcome
