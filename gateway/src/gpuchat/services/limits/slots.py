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

The queue in front is shared too, so a waiting request's position counts every replica's
waiting requests. Each waiting request holds a *place* in `gpuchat:queue:<engine>`, scored
with the moment it arrived; between replicas, places are served first come, first served.
Within a replica, its fair rotation decides which of its requests takes its earliest place:
its i-th request in service order stands on its i-th earliest place, so its position is that
place's rank among every replica's places. A request takes a slot only while its place is
among the first free ones (`take(place=...)`), and then gives up its own place: the places
left are always the arrival moments of the requests still waiting. Places are leased like
slots (`gpuchat:queue-lease:<engine>`), so a dead replica's places go too.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)

LEASE_SECONDS = 30.0
TIMEOUT_SECONDS = 0.25
OPEN_SECONDS = 5.0
LOCAL = "local"  # the slot handed out while Redis is out: nothing to give back

# KEYS: slots, queue (places by arrival), queue leases.
_FORGET_EXPIRED = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])
for _, member in ipairs(gone) do
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZREM', KEYS[3], member)
end
"""

# ARGV: now, limit, lease end, slot id, key lifetime (ms), place ('' = none yet), own place.
# A slot while one is free and nobody waits ahead of the place; without a place, while
# nobody waits at all. Taking it gives up the request's own place.
_TAKE = (
    _FORGET_EXPIRED
    + """
local free = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1])
if free <= 0 then return 0 end
local ahead = redis.call('ZCARD', KEYS[2])
if ARGV[6] ~= '' then ahead = redis.call('ZRANK', KEYS[2], ARGV[6]) or ahead end
if ahead >= free then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if ARGV[7] ~= '' then
  redis.call('ZREM', KEYS[2], ARGV[7])
  redis.call('ZREM', KEYS[3], ARGV[7])
end
return 1
"""
)

# ARGV: now, lease end, key lifetime (ms), then (place, arrival) pairs to hold. Answers the
# slots held and every place in order, with its arrival.
_LOOK = (
    _FORGET_EXPIRED
    + """
for i = 4, #ARGV, 2 do
  redis.call('ZADD', KEYS[2], 'NX', ARGV[i + 1], ARGV[i])
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[i])
end
if #ARGV >= 4 then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
end
return {redis.call('ZCARD', KEYS[1]), redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')}
"""
)


@dataclass(frozen=True)
class Place:
    """A waiting request's place in the shared queue: its id and the moment it arrived."""

    member: str
    arrived: float

    @property
    def order(self) -> tuple[float, str]:
        return (self.arrived, self.member)  # Redis orders equal scores by member


@dataclass(frozen=True)
class QueueView:
    """The shared queue of one engine as Redis has it now."""

    held: int  # slots taken
    places: list[tuple[float, str]]  # every replica's places, first served first

    def rank(self, place: Place) -> int:
        """How many places are ahead of `place`."""
        return bisect.bisect_left(self.places, place.order)


class SharedSlots:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "gpuchat:",
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
        self._look = self._redis.register_script(_LOOK)
        self._prefix = prefix  # keys: <prefix>slots:<engine>, <prefix>queue:<engine>, ...
        self._lease = lease_seconds
        self._replica = secrets.token_hex(6)
        self._numbers = itertools.count()
        self._held: dict[str, str] = {}  # member -> engine
        self._places: dict[str, tuple[str, Place]] = {}  # member -> (engine, place)
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

    @property
    def available(self) -> bool:
        """Whether Redis is being used now (not within `OPEN_SECONDS` of a failure)."""
        return time.monotonic() >= self._open_until

    def new_place(self) -> Place:
        return Place(self._new_member(), time.time())

    async def take(
        self, engine: str, limit: int, place: Place | None = None, own: Place | None = None
    ) -> str | None:
        """A slot of `engine` (its id, or LOCAL while Redis is out), or None when all
        `limit` are held or other requests wait ahead of `place` (of anyone, without one).
        Taken, the request's `own` place is given up."""
        if not self.available:
            return LOCAL
        member = self._new_member()
        now = time.time()
        args: list[str | float | int] = [now, limit, now + self._lease, member, self._key_ms]
        args += [place.member if place else "", own.member if own else ""]
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS * 2):
                taken = await self._take(keys=self._keys(engine), args=args)
        except self._errors as exc:
            self._trip(exc)
            return LOCAL
        if not taken:
            return None
        if own is not None:
            self._places.pop(own.member, None)
        self._held[member] = engine
        return member

    async def look(self, engine: str, hold: list[Place]) -> QueueView | None:
        """Hold these places (added if Redis lost them) and see the whole queue; None while
        Redis is out."""
        if not self.available:
            return None
        now = time.time()
        args: list[str | float | int] = [now, now + self._lease, self._key_ms]
        for place in hold:
            self._places[place.member] = (engine, place)
            args += [place.member, place.arrived]
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS * 2):
                held, flat = await self._look(keys=self._keys(engine), args=args)
        except self._errors as exc:
            self._trip(exc)
            return None
        places = [(float(flat[i + 1]), flat[i].decode()) for i in range(0, len(flat), 2)]
        return QueueView(int(held), places)

    def leave(self, place: Place) -> None:
        """Give up a place (synchronous, like `give_back`)."""
        held = self._places.pop(place.member, None)
        if held is not None:
            self._in_background(self._forget(held[0], place.member))

    def give_back(self, member: str) -> None:
        """Synchronous (a ticket's close calls it): the ZREM runs in the background."""
        engine = self._held.pop(member, None)
        if engine is not None:
            self._in_background(self._remove(engine, member))

    def _in_background(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _remove(self, engine: str, member: str) -> None:
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS * 2):
                await self._redis.zrem(self._key(engine), member)
        except self._errors as exc:
            self._trip(exc)  # the lease ends by itself

    async def _forget(self, engine: str, member: str) -> None:
        _, queue, leases = self._keys(engine)
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS * 2):
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.zrem(queue, member)
                    pipe.zrem(leases, member)
                    await pipe.execute()
        except self._errors as exc:
            self._trip(exc)  # the lease ends by itself

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            if not self._held and not self._places:
                continue
            until = time.time() + self._lease
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for member, engine in list(self._held.items()):
                        pipe.zadd(self._key(engine), {member: until}, xx=True)
                    for member, (engine, _) in list(self._places.items()):
                        pipe.zadd(self._keys(engine)[2], {member: until}, xx=True)
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
        return self._keys(engine)[0]

    def _keys(self, engine: str) -> list[str]:
        """Its slots, its queue of places, their leases."""
        return [f"{self._prefix}{kind}:{engine}" for kind in ("slots", "queue", "queue-lease")]

    def _new_member(self) -> str:
        return f"{self._replica}:{next(self._numbers)}"

    @property
    def _key_ms(self) -> int:
        return int(self._lease * 2000)  # a key nobody renews is gone after two leases

    def _trip(self, exc: BaseException) -> None:
        if time.monotonic() >= self._open_until:
            log.warning("slots_redis_unavailable", error=type(exc).__name__)
        self._open_until = time.monotonic() + OPEN_SECONDS
