"""`keel jobs`: the scheduled jobs' timetable and last outcomes, and running one now."""

from __future__ import annotations

from datetime import datetime

import click

from platform_core.cli.support import with_runtime
from platform_core.messaging.scheduler import JobOutcome, JobStatus, UnknownJob
from platform_core.runtime.runtime import Runtime


@click.group("jobs", help="Scheduled housekeeping jobs (workers run them on their timetable).")
def jobs_group() -> None:
    pass


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


def _describe(status: JobStatus, description: str) -> str:
    state = f"running since {_when(status.running_since)}" if status.running_since else "idle"
    outcome = f"{status.last_outcome}: {status.last_result}" if status.last_outcome else "never ran"
    return "\n".join(
        [
            f"{status.name}  (every {status.every}; {state})",
            f"  {description}",
            f"  next run {_when(status.next_run_at)}; last finished {_when(status.last_finished_at)}",
            f"  last outcome {outcome}",
            f"  runs {status.runs}, failures {status.failures}",
        ]
    )


@jobs_group.command("list")
def list_jobs() -> None:
    """Every job with its interval, next run and last outcome."""

    async def run(runtime: Runtime) -> list[str]:
        jobs = runtime.scheduler.jobs
        return [_describe(s, jobs[s.name].description) for s in await runtime.scheduler.statuses()]

    click.echo("\n".join(with_runtime(run)))


@jobs_group.command("run")
@click.argument("name")
def run_job(name: str) -> None:
    """Run the job NAME now, whatever its timetable (exit 1 if it fails or is already running)."""

    async def run(runtime: Runtime) -> JobOutcome | None:
        return await runtime.scheduler.run_now(name)

    try:
        outcome = with_runtime(run)
    except UnknownJob:
        raise click.BadParameter(f"no scheduled job is named {name!r}", param_hint="NAME") from None
    if outcome is None:
        raise click.ClickException(f"{name} is running in another process; try again when it finishes")
    if not outcome.succeeded:
        raise click.ClickException(f"{name} failed: {outcome.result}")
    click.echo(outcome.result)


COMMANDS = [jobs_group]
