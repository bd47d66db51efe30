"""Helpers module CLI commands use: run a coroutine against a fully assembled Runtime."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from platform_core.config import Settings, get_settings
from platform_core.embedded import services_for
from platform_core.runtime import Runtime

T = TypeVar("T")


@dataclass(frozen=True)
class CliState:
    build_runtime: Callable[[Settings], Runtime]


def with_runtime(fn: Callable[[Runtime], Coroutine[Any, Any, T]]) -> T:
    """Start (or reuse) the configured services, build the runtime, run `fn`, dispose."""
    state: CliState = click.get_current_context().find_object(CliState)  # type: ignore[assignment]
    with services_for(get_settings()) as settings:

        async def main() -> T:
            runtime = state.build_runtime(settings)
            try:
                return await fn(runtime)
            finally:
                await runtime.dispose()

        return asyncio.run(main())
