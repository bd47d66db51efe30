"""organization's CLI commands: `keel org grant-operator`."""

from __future__ import annotations

import uuid

import click

from modules.organization.services.assignments import grant_operator
from platform_core.cli.support import with_runtime
from platform_core.runtime.runtime import Runtime


@click.group("org", help="Organizations and access.")
def org_group() -> None:
    pass


@org_group.command("grant-operator")
@click.argument("person_id", type=click.UUID)
def grant_operator_command(person_id: uuid.UUID) -> None:
    """Give PERSON_ID the platform-operator role (every permission in every organization)."""

    async def run(runtime: Runtime) -> None:
        async with runtime.uow() as uow:
            await grant_operator(uow, person_id)

    with_runtime(run)
    click.echo(f"{person_id} is a platform operator")


COMMANDS = [org_group]
