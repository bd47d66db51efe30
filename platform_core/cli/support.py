"""Helpers module CLI commands use: run a coroutine against a fully assembled Runtime."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from platform_core.core.config import Settings, get_settings
from platform_core.embedded.servers import services_for
from platform_core.persistence.migrate import Migrations
from platform_core.runtime.runtime import Runtime

T = TypeVar("T")


@dataclass(frozen=True)
class CliState:
    build_runtime: Callable[[Settings], Runtime]
    migrations: Migrations


@contextlib.contextmanager
def prepared_services(migrations: Migrations) -> Iterator[Settings]:
    """`services_for` the environment's settings; an embedded database is also brought to the
    newest schema, so `keel token create` or `keel worker` work on a fresh machine before `keel
    serve` ever ran. A configured database is left to `keel migrate`."""
    configured = get_settings()
    with services_for(configured) as settings:
        assert settings.database_url
        if not configured.database_url:
            migrations.upgrade(settings.database_url)
        yield settings


def with_runtime(fn: Callable[[Runtime], Coroutine[Any, Any, T]]) -> T:
    """Start (or reuse) the configured services, build the runtime, run `fn`, dispose."""
    state: CliState = click.get_current_context().find_object(CliState)  # type: ignore[assignment]
    with prepared_services(state.migrations) as settings:

        async def main() -> T:
            runtime = state.build_runtime(settings)
            try:
                return await fn(runtime)
            finally:
                await runtime.dispose()

        return asyncio.run(main())
