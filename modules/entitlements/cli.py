"""entitlements's CLI commands: `keel entitlements rematerialize`."""

from __future__ import annotations

from typing import Any

import click

from modules.entitlements.services.materialize import rematerialize_due
from platform_core.cli_support import with_runtime


@click.group("entitlements", help="Entitlements housekeeping.")
def entitlements_group() -> None:
    pass


@entitlements_group.command("rematerialize")
@click.option("--limit", default=1000, show_default=True, type=int, help="Pools per transaction.")
def rematerialize(limit: int) -> None:
    """Refresh the stored current values of pools whose schedule passed a boundary (checks and
    ingestion are already exact without this; it keeps the stored view and contributions tidy).
    Run it from cron or a scheduler, e.g. hourly."""

    async def run(runtime: Any) -> int:
        total = 0
        while True:
            async with runtime.uow() as uow:
                done = await rematerialize_due(uow, limit=limit)
            total += done
            if done < limit:
                return total

    click.echo(f"re-materialized {with_runtime(run)} pool(s)")


COMMANDS = [entitlements_group]
