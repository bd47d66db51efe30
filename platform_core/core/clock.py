"""The one source of "now", so tests can control time.

Every module reads `utcnow()`; a test replaces the source once with `set_source` (and puts
it back with `set_source(None)`) instead of patching each module that reads the time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_source: Callable[[], datetime] | None = None


def utcnow() -> datetime:
    return _source() if _source is not None else datetime.now(UTC)


def set_source(source: Callable[[], datetime] | None) -> None:
    """Read the time from `source` from now on (None: the system clock again)."""
    global _source
    _source = source
