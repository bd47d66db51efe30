"""An app of its own for a test that needs other settings than the session's (a private Redis,
another timeout): its runtime, and an HTTP client calling it in the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from modules.composition import build_runtime
from platform_core.core.config import Settings
from platform_core.http.app import create_app
from platform_core.runtime.runtime import Runtime


@dataclass(frozen=True)
class Serving:
    runtime: Runtime
    client: httpx.AsyncClient


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Serving]:
    runtime = build_runtime(settings)
    transport = httpx.ASGITransport(app=create_app(runtime), raise_app_exceptions=False)  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://keel.test") as client:
            yield Serving(runtime, client)
    finally:
        await runtime.dispose()
