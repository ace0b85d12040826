"""Engine slots shared by every gateway replica, through Redis.

Without Redis each gateway process limits its own upstream requests to a profile's
`max_concurrency`. With `GPUCHAT_REDIS_URL` the limit holds for all replicas together: a
request whose turn has come in its replica's queue also takes a slot here before it goes
upstream, and gives it back when it ends.

A slot is a member of the sorted set `gpuchat:slots:<engine>`, scored with the moment its
lease ends. One Lua script drops the expired members and adds one only while fewer than the
limit are held, so two replicas never both take the last slot. Each replica renews the
leases it holds every `LEASE_SECONDS / 3`, so the slots of a replica that died come back
within `LEASE_SECONDS`. When Redis fails, `take` answers "go ahead" (each replica keeps its
own limit meanwhile, as the usage limits fall back to in-process counters), and tries Redis
again after `OPEN_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import time

import structlog

log = structlog.get_logger(__name__)

LEASE_SECONDS = 30.0
TIMEOUT_SECONDS = 0.25
OPEN_SECONDS = 5.0
LOCAL = "local"  # the slot handed out while Redis is out: nothing to give back

_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


class SharedSlots:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "gpuchat:slots:",
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        # Imported here: the redis package costs a gateway without Redis ~25 MiB and 0.25 s.
        from redis import RedisError
        from redis.asyncio import Redis

        self._errors = (RedisError, OSError, TimeoutError)
        self._redis = Redis.from_url(
            url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
        )
        self._take = self._redis.register_script(_TAKE)
        self._prefix = prefix
        self._lease = lease_seconds
        self._replica = secrets.token_hex(6)
        self._numbers = itertools.count()
        self._held: dict[str, str] = {}  # member -> engine
        self._open_until = 0.0
        self._renewer: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._renewer = asyncio.create_task(self._renew_forever(), name="slot-leases")

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        if self._pending:
            await asyncio.wait(self._pending, timeout=2)
        with contextlib.suppress(*self._errors):
            await self._give_back_all()
        await self._redis.aclose()

    async def take(self, engine: str, limit: int) -> str | None:
        """A slot of `engine` (its id, or LOCAL while Redis is out), or None when all
        `limit` are held."""
        if time.monotonic() < self._open_until:
            return LOCAL
        member = f"{self._replica}:{next(self._numbers)}"
        now = time.time()
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS * 2):
                taken = await self._take(
                    keys=[self._key(engine)],
                    args=[now, limit, now + self._lease, member, int(self._lease * 2000)],
                )
        except self._errors as exc:
            self._trip(exc)
            return LOCAL
        if not taken:
            return None
        self._held[member] = engine
        return member

    def give_back(self, member: str) -> None:
        """Synchronous (a ticket's close calls it): the ZREM runs in the background."""
        engine = self._held.pop(member, None)
        if engine is None:
            return
        task = asyncio.get_running_loop().create_task(self._remove(engine, member))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _remove(self, engine: str, member: str) -> None:
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS * 2):
                await self._redis.zrem(self._key(engine), member)
        except self._errors as exc:
            self._trip(exc)  # the lease ends by itself

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            if not self._held:
                continue
            until = time.time() + self._lease
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for member, engine in list(self._held.items()):
                        pipe.zadd(self._key(engine), {member: until}, xx=True)
                    await pipe.execute()
            except self._errors as exc:
                self._trip(exc)

    async def _give_back_all(self) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for member, engine in self._held.items():
                pipe.zrem(self._key(engine), member)
            await pipe.execute()
        self._held.clear()

    def _key(self, engine: str) -> str:
        return self._prefix + engine

    def _trip(self, exc: BaseException) -> None:
        if time.monotonic() >= self._open_until:
            log.warning("slots_redis_unavailable", error=type(exc).__name__)
        self._open_until = time.monotonic() + OPEN_SECONDS
