"""Start-up leaves its long-lived objects out of the garbage collector's scans (core.heap): the
hot paths allocate per event, and full collections rescanning routes, modules and the OpenAPI
document cost a fifth of usage ingest's CPU (docs/performance.md)."""

from __future__ import annotations

import gc

from litestar import Litestar

from modules.composition import build_app
from platform_core.core.config import Settings


def test_an_app_freezes_what_it_built(settings: Settings) -> None:
    gc.unfreeze()
    app: Litestar = build_app(settings)
    frozen = gc.get_freeze_count()
    assert frozen > 10_000  # the modules, routes and document: not rescanned by collections
    tracked_after = len(gc.get_objects())
    assert tracked_after < frozen
    assert app.openapi_schema is not None
