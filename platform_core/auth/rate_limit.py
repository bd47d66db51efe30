"""Per-credential request budgets counted in Redis (fixed one-minute windows), shared by every
process serving the API."""

from __future__ import annotations

import logging
import math
import time

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

WINDOW_SECONDS = 60
KEY_PREFIX = "keel:rate"

log = logging.getLogger(__name__)


class RateDecision(msgspec.Struct, frozen=True, kw_only=True):
    allowed: bool
    count: int
    limit: int
    retry_after: int  # seconds until the current window ends


class RateLimiter:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def hit(self, subject: str, limit: int, *, now: float | None = None) -> RateDecision:
        """Count one request of `subject` in the current minute and say whether it fits."""
        instant = time.time() if now is None else now
        window = int(instant // WINDOW_SECONDS)
        key = f"{KEY_PREFIX}:{subject}:{window}"
        retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - instant))
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, WINDOW_SECONDS * 2)
                count, _ = await pipe.execute()
        except RedisError:
            # fail open: an unreachable counter must not take the API down with it
            log.warning("rate limit counter unavailable; allowing %s", subject, exc_info=True)
            return RateDecision(allowed=True, count=0, limit=limit, retry_after=retry_after)
        return RateDecision(
            allowed=int(count) <= limit, count=int(count), limit=limit, retry_after=retry_after
        )
