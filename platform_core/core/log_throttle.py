"""One warning line per interval for a failure that repeats on every request (a dead Redis),
instead of one line, or one traceback, per request."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class ThrottledWarning:
    """Logs at most one warning every `interval` seconds and counts the ones it held back; the
    next line that gets through says how many there were."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._next_at = float("-inf")
        self._held_back = 0

    def warning(self, message: str, *args: object) -> None:
        now = self._clock()
        if now < self._next_at:
            self._held_back += 1
            return
        if self._held_back:
            message += f" ({self._held_back} more since the last such line)"
        self._logger.warning(message, *args)
        self._next_at = now + self._interval
        self._held_back = 0
