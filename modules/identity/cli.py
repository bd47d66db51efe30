"""identity's CLI commands: `keel token create`."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import click

from modules.identity.services.persons import create_person
from modules.identity.services.tokens import issue_token
from platform_core.cli.support import with_runtime
from platform_core.core.principal import PLATFORM_ADMIN_SCOPE


@click.group("token", help="Manage API tokens.")
def token_group() -> None:
    pass


@token_group.command("create")
@click.option("--name", required=True, help="Who or what the token is for.")
@click.option("--admin", is_flag=True, help="Grant platform-admin scope (cross-org operator).")
@click.option("--scope", "scopes", multiple=True, help="A permission scope; repeatable. Default: all.")
def create_token(name: str, admin: bool, scopes: tuple[str, ...]) -> None:
    """Create a person named NAME and print a new personal access token for it (only the token)."""
    granted = [PLATFORM_ADMIN_SCOPE, "*"] if admin else list(scopes or ("*",))

    async def run(runtime: Any) -> str:
        async with runtime.uow() as uow:
            person = await create_person(uow, kind="individual", display_name=name)
            issued = await issue_token(uow, person_id=person.id, name=name, scopes=granted)
        return issued.token

    runner: Callable[[Callable[[Any], Coroutine[Any, Any, str]]], str] = with_runtime
    click.echo(runner(run))


COMMANDS = [token_group]
