"""audit's CLI commands: `keel audit verify`."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import click
import msgspec

from modules.audit.services.queries import verify_chains
from platform_core.cli.support import with_runtime


@click.group("audit", help="Audit log tools.")
def audit_group() -> None:
    pass


@audit_group.command("verify")
@click.option(
    "--org", "org_id", type=click.UUID, default=None, help="One organization's chain (default: all)."
)
def verify(org_id: uuid.UUID | None) -> None:
    """Recompute the hash chains; exit 1 when a link is broken."""

    async def run(runtime: Any) -> Any:
        async with runtime.sessionmaker() as session:
            return await verify_chains(session, org_id=org_id, all_orgs=org_id is None)

    result = with_runtime(run)
    click.echo(msgspec.json.encode(result).decode())
    sys.exit(0 if result.ok else 1)


COMMANDS = [audit_group]
