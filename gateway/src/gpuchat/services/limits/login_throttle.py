"""Rate limiting on the `limits` library: in-process by default, Redis when configured.

Login throttling uses it in fail-closed mode: if the store cannot answer, nobody logs in
(a brute force must not get through because Redis is down).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

log = structlog.get_logger(__name__)
T = TypeVar("T")

STORE_TIMEOUT_SECONDS = 0.5


class LimiterUnavailable(Exception):
    """The limit store did not answer in time."""


def create_storage(redis_url: str | None) -> Storage:
    if not redis_url:
        return MemoryStorage()
    uri = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
    return RedisStorage(
        uri,
        implementation="redispy",
        socket_timeout=STORE_TIMEOUT_SECONDS,
        socket_connect_timeout=STORE_TIMEOUT_SECONDS,
    )


class LoginThrottle:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._strategy = MovingWindowRateLimiter(storage)
        self._items: dict[str, RateLimitItem] = {}

    def _item(self, limit: str) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = parse(limit)
        return item

    async def _call(self, work: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(STORE_TIMEOUT_SECONDS * 2):
                return await work
        except Exception as exc:
            log.warning("rate_limit_store_unavailable", error=type(exc).__name__)
            raise LimiterUnavailable from exc

    async def allowed(self, limit: str, *key: str) -> bool:
        """True when one more hit would stay within `limit` (does not count a hit)."""
        return bool(await self._call(self._strategy.test(self._item(limit), *key)))

    async def hit(self, limit: str, *key: str) -> bool:
        return bool(await self._call(self._strategy.hit(self._item(limit), *key)))

    async def retry_after(self, limit: str, *key: str) -> int:
        stats = await self._call(self._strategy.get_window_stats(self._item(limit), *key))
        reset = getattr(stats, "reset_time", time.time() + 1)
        return max(1, int(reset - time.time()) + 1)

    async def clear(self, limit: str, *key: str) -> None:
        await self._call(self._strategy.clear(self._item(limit), *key))
