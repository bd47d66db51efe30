"""entitlements's CLI commands: `keel entitlements rematerialize`."""

from __future__ import annotations

from typing import Any

import click

from modules.entitlements.jobs import POOLS_PER_TRANSACTION, rematerialize
from platform_core.cli.support import with_runtime


@click.group("entitlements", help="Entitlements housekeeping.")
def entitlements_group() -> None:
    pass


@entitlements_group.command("rematerialize")
@click.option(
    "--limit", default=POOLS_PER_TRANSACTION, show_default=True, type=int, help="Pools per transaction."
)
def rematerialize_command(limit: int) -> None:
    """Refresh the stored current values of pools whose schedule passed a boundary (checks and
    ingestion are already exact without this; it keeps the stored view and contributions tidy).
    Workers also run it every 5 minutes as the scheduled job `entitlements.rematerialize`."""

    async def run(runtime: Any) -> str:
        return await rematerialize(runtime.uow, limit=limit)

    click.echo(with_runtime(run))


COMMANDS = [entitlements_group]
