"""Where the usage limits keep their counters: Redis when configured, else this process.

Redis calls have a short timeout and sit behind a circuit breaker. When Redis fails, the
breaker opens: for `OPEN_SECONDS` every call goes straight to in-process counters (nothing
waits on a dead server), the `gpuchat_redis_fallback` gauge reads 1 and one log line says
so. After that one call tries Redis again; when it answers, limits are shared again (and
one more log line says so). Counters kept in memory meanwhile are per process, so a
fallback is lenient, never stuck. Login throttling does not use this: it fails closed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

log = structlog.get_logger(__name__)
T = TypeVar("T")

TIMEOUT_SECONDS = 0.25
OPEN_SECONDS = 5.0


def redis_storage(url: str) -> RedisStorage:
    uri = url if url.startswith("async+") else f"async+{url}"
    return RedisStorage(
        uri,
        implementation="redispy",
        key_prefix="gpuchat-limits",
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
    )


class LimitStore:
    def __init__(
        self, redis_url: str | None, on_fallback: Callable[[bool], None] = lambda _: None
    ) -> None:
        self._memory: Storage = MemoryStorage()
        self._redis: Storage | None = redis_storage(redis_url) if redis_url else None
        self._windows = {
            id(self._memory): SlidingWindowCounterRateLimiter(self._memory),
        }
        if self._redis is not None:
            self._windows[id(self._redis)] = SlidingWindowCounterRateLimiter(self._redis)
        self._items: dict[str, RateLimitItem] = {}
        self._open_until = 0.0
        self.fallback = False
        self._on_fallback = on_fallback

    async def run(
        self, work: Callable[[Storage, SlidingWindowCounterRateLimiter], Awaitable[T]]
    ) -> T:
        """Do `work` on Redis, or on the in-process counters while Redis is out."""
        redis = self._redis
        if redis is not None and time.monotonic() >= self._open_until:
            try:
                async with asyncio.timeout(TIMEOUT_SECONDS * 2):
                    result = await work(redis, self._windows[id(redis)])
            except Exception as exc:  # any failure of the store: fall back, never fail the request
                self._trip(exc)
            else:
                if self.fallback:
                    self._set_fallback(False)
                    log.info("limits_redis_recovered")
                return result
        return await work(self._memory, self._windows[id(self._memory)])

    def item(self, amount: int, per: str) -> RateLimitItem:
        text = f"{amount}/{per}"
        found = self._items.get(text)
        if found is None:
            found = self._items[text] = parse(text)
        return found

    def _trip(self, exc: Exception) -> None:
        self._open_until = time.monotonic() + OPEN_SECONDS
        if not self.fallback:
            self._set_fallback(True)
            log.warning("limits_redis_unavailable_using_memory", error=type(exc).__name__)

    def _set_fallback(self, value: bool) -> None:
        self.fallback = value
        self._on_fallback(value)
