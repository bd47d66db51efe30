"""Per-credential request budgets counted in Redis (fixed one-minute windows), shared by every
process serving the API.

Redis never delays an answer: a count that takes longer than `timeout_seconds` (Redis frozen,
unreachable, failing) is given up. Then the limiter fails open (the request is allowed; the
default, since the API serves without Redis) or closed (`RateLimitUnavailable`, a 503 with
`Retry-After`), as `KEEL_RATE_LIMIT_FAIL_OPEN` says."""

from __future__ import annotations

import asyncio
import logging
import math
import time

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from platform_core.core.errors import ProblemError
from platform_core.core.log_throttle import ThrottledWarning
from platform_core.core.outages import RETRY_AFTER_SECONDS

WINDOW_SECONDS = 60
KEY_PREFIX = "keel:rate"

log = logging.getLogger(__name__)


class RateDecision(msgspec.Struct, frozen=True, kw_only=True):
    allowed: bool
    count: int
    limit: int
    retry_after: int  # seconds until the current window ends


class RateLimitUnavailable(ProblemError):
    status, code, title = 503, "rate_limit_unavailable", "Service unavailable"


class RateLimiter:
    def __init__(self, redis: Redis, *, timeout_seconds: float = 0.25, fail_open: bool = True) -> None:
        self._redis = redis
        self._timeout = timeout_seconds
        self._fail_open = fail_open
        self._outages = ThrottledWarning(log)

    async def hit(self, subject: str, limit: int, *, now: float | None = None) -> RateDecision:
        """Count one request of `subject` in the current minute and say whether it fits."""
        instant = time.time() if now is None else now
        window = int(instant // WINDOW_SECONDS)
        key = f"{KEY_PREFIX}:{subject}:{window}"
        retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - instant))
        try:
            async with asyncio.timeout(self._timeout):
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.incr(key)
                    pipe.expire(key, WINDOW_SECONDS * 2)
                    count, _ = await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            return self._unavailable(exc, limit, retry_after)
        return RateDecision(
            allowed=int(count) <= limit, count=int(count), limit=limit, retry_after=retry_after
        )

    def _unavailable(self, exc: Exception, limit: int, retry_after: int) -> RateDecision:
        outcome = "allowing requests" if self._fail_open else "refusing requests with 503"
        self._outages.warning(
            "rate limit counter unavailable (%s); %s (KEEL_RATE_LIMIT_FAIL_OPEN=%s)",
            type(exc).__name__,
            outcome,
            str(self._fail_open).lower(),
        )
        if not self._fail_open:
            raise RateLimitUnavailable(
                "the request budget cannot be counted right now; retry shortly",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return RateDecision(allowed=True, count=0, limit=limit, retry_after=retry_after)
