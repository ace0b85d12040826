"""Admission: at most `max_concurrency` upstream requests per engine, and a fair queue.

Beyond an engine's limit, requests wait in a queue served round-robin across users: the
user at the head of the rotation gets the next free slot and goes to the back if they still
have requests waiting, so one user with many requests cannot starve the others. Each
waiting request knows its position (recomputed on every change: arrival, departure,
admission) and an estimated wait from the engine's recent request durations. A newcomer
may take a place ahead of a heavy user's later requests; that is the fairness.

The queue is bounded in length and in wait: past either, 429 (or 503 while the engine is
loading) with Retry-After. One user holds at most a share of its places (429
`queue_share_exceeded`), so one user's burst leaves room for everyone else. A ticket's
slot is released exactly once by `close()`, which is plain, synchronous and safe to repeat
(the relay's `finish()` calls it).

Engine-aware (a profile's `engine_aware_admission`, on by default): an engine that reports
its own load (vLLM's `/metrics`: requests waiting inside it, KV-cache use) and says it is
full sets a lower `capacity` than the static limit: what it is running now. Requests beyond
it wait here, where their users see their place, instead of invisibly inside the engine (or
preempted there). While the engine has room again the capacity grows back a quarter at a
time, until the static limit takes over.

The queue (order, positions) is kept in each process. With Redis, the engine's limit holds
across replicas too: a ticket whose turn has come ("running" here) also takes a slot shared
by every replica (`services/slots.py`) before it is admitted, waiting for one if needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Final

from gpuchat.core.errors import GatewayError
from gpuchat.engines.load import EngineLoad
from gpuchat.services.slots import SharedSlots

KEEPALIVE_SECONDS: Final = 15.0
INITIAL_SERVICE_SECONDS: Final = 10.0  # the estimate before an engine has served anything
SMOOTHING: Final = 0.2
SHARED_POLL_SECONDS: Final = 0.05  # how often a running ticket asks for a shared slot
LOAD_POLL_SECONDS: Final = 0.5  # how often engine loads are looked at (scraped every 1 s)
KV_CACHE_FULL: Final = 0.95  # a KV cache this full has no room for another request


class Ticket:
    """One request's place: waiting (position >= 1), running (its turn here), admitted
    (running and, with Redis, holding a slot shared by the replicas) or closed."""

    __slots__ = (
        "admitted",
        "arrived",
        "changed",
        "closed",
        "position",
        "queue",
        "release_slot",
        "running",
        "started",
        "user",
    )

    def __init__(self, queue: EngineQueue, user: str) -> None:
        self.queue = queue
        self.user = user
        self.arrived = time.monotonic()
        self.started: float | None = None
        self.position = 0
        self.running = False
        self.admitted = False
        self.closed = False
        self.changed = asyncio.Event()
        self.release_slot: Callable[[], None] | None = None

    @property
    def waited_ms(self) -> int:
        return round(((self.started or time.monotonic()) - self.arrived) * 1000)

    def close(self) -> None:
        """Leave the queue, or give the slot back. Exactly once, whatever calls it."""
        if not self.closed:
            self.closed = True
            if self.release_slot is not None:
                self.release_slot()
            self.queue.leave(self)


class EngineQueue:
    def __init__(self, name: str, limit: int, *, shared: bool = False) -> None:
        self.name = name
        self.limit = limit
        self.shared = shared  # admitted only with a slot shared by the replicas
        self.inflight = 0
        self.waiting = 0
        self.capacity: int | None = None  # engine-aware: what the engine can run now
        self._users: OrderedDict[str, deque[Ticket]] = OrderedDict()
        self._service_s = INITIAL_SERVICE_SECONDS

    @property
    def allowed(self) -> int:
        """Requests that may be in flight now: the static limit, or less while the engine
        says it is full."""
        return self.limit if self.capacity is None else min(self.limit, self.capacity)

    def observe(self, load: EngineLoad | None) -> None:
        """The engine's latest word on its load; admits waiting requests if it has room."""
        if load is None:
            self.capacity = None
        elif load.waiting > 0 or (load.kv_cache_usage or 0.0) >= KV_CACHE_FULL:
            # What it runs now, of ours; the requests it has not started wait here next time.
            self.capacity = max(1, min(load.running, self.inflight - load.waiting))
        elif self.capacity is not None and self.inflight >= self.capacity:
            self.capacity += max(1, self.capacity // 4)
            if self.capacity >= self.limit:
                self.capacity = None
        self._dispatch()
        self._renumber()

    def enter(self, user: str, max_length: int, max_per_user: int) -> Ticket:
        ticket = Ticket(self, user)
        if self.inflight < self.allowed and not self.waiting:
            self._admit(ticket)
            return ticket
        if len(self._users.get(user, ())) >= max_per_user:
            raise GatewayError(
                429,
                "You already have as many requests waiting for this model as one user may",
                code="queue_share_exceeded",
                retry_after=max(1, round(self.estimate(self.waiting + 1))),
            )
        if self.waiting >= max_length:
            raise GatewayError(
                429,
                "Too many requests are waiting for this model; try again later",
                code="queue_full",
                retry_after=max(1, round(self.estimate(self.waiting + 1))),
            )
        self._users.setdefault(user, deque()).append(ticket)
        self.waiting += 1
        self._renumber()
        return ticket

    def estimate(self, position: int) -> float:
        """Seconds until `position` is served, from recent request durations."""
        return round(position * self._service_s / max(self.allowed, 1), 1)

    def leave(self, ticket: Ticket) -> None:
        if ticket.running:
            self.inflight -= 1
            assert ticket.started is not None
            held = time.monotonic() - ticket.started
            self._service_s += SMOOTHING * (held - self._service_s)
        else:
            ticket.changed.set()  # its waiter learns it has left
            waiting = self._users.get(ticket.user)
            if waiting is not None and ticket in waiting:
                waiting.remove(ticket)
                self.waiting -= 1
                if not waiting:
                    del self._users[ticket.user]
        self._dispatch()
        self._renumber()

    def _admit(self, ticket: Ticket) -> None:
        ticket.running, ticket.position, ticket.started = True, 0, time.monotonic()
        ticket.admitted = not self.shared
        self.inflight += 1
        ticket.changed.set()

    def _dispatch(self) -> None:
        while self.inflight < self.allowed and self._users:
            user, waiting = next(iter(self._users.items()))
            ticket = waiting.popleft()
            self.waiting -= 1
            if waiting:
                self._users.move_to_end(user)
            else:
                del self._users[user]
            self._admit(ticket)

    def _renumber(self) -> None:
        """Positions in service order: round by round, users in rotation order."""
        queues = list(self._users.values())
        position, depth = 1, 0
        while queues:
            queues = [q for q in queues if len(q) > depth]
            for waiting in queues:
                ticket = waiting[depth]
                if ticket.position != position:
                    ticket.position = position
                    ticket.changed.set()
                position += 1
            depth += 1


class Admission:
    def __init__(
        self,
        *,
        max_length: int,
        max_wait_s: float,
        is_loading: Callable[[str], bool] = lambda _: False,
        on_reject: Callable[[str, str], None] = lambda _engine, _reason: None,
        slots: SharedSlots | None = None,
        loads: Callable[[], Mapping[str, EngineLoad | None]] | None = None,
        user_share: float = 1.0,
    ) -> None:
        """`user_share`: the share of `max_length` one user's waiting requests may take."""
        self._on_reject = on_reject
        self.max_per_user = max(1, math.ceil(max_length * user_share))
        self._slots = slots
        self._loads = loads  # engine-aware engines' latest loads, by profile name
        self._load_task: asyncio.Task[None] | None = None
        self.max_length = max_length
        self.max_wait_s = max_wait_s
        self._is_loading = is_loading
        self._queues: dict[str, EngineQueue] = {}

    async def start(self) -> None:
        if self._slots is not None:
            await self._slots.start()
        if self._loads is not None and self._load_task is None:
            self._load_task = asyncio.create_task(self._follow_loads(self._loads))

    async def close(self) -> None:
        if self._load_task is not None:
            self._load_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._load_task
        if self._slots is not None:
            await self._slots.close()

    async def _follow_loads(self, loads: Callable[[], Mapping[str, EngineLoad | None]]) -> None:
        while True:
            latest = loads()
            for name, queue in self._queues.items():
                queue.observe(latest.get(name))
            await asyncio.sleep(LOAD_POLL_SECONDS)

    def enter(self, engine: str, limit: int, user: str) -> Ticket:
        """Take a slot now, or a place in the queue (429 when the queue is full)."""
        queue = self._queues.get(engine)
        if queue is None:
            shared = self._slots is not None
            queue = self._queues[engine] = EngineQueue(engine, limit, shared=shared)
        queue.limit = limit  # a profile file reload may change it
        try:
            return queue.enter(user, self.max_length, self.max_per_user)
        except GatewayError as refused:
            self._on_reject(engine, "share" if refused.code == "queue_share_exceeded" else "full")
            raise

    async def admit(self, engine: str, limit: int, user: str) -> Ticket:
        """`enter()`, then with Redis one try at a shared slot: the ticket comes back
        admitted, or waiting (`wait()`/`positions()` take it from there)."""
        ticket = self.enter(engine, limit, user)
        try:
            await self._settle(ticket)
        except BaseException:
            ticket.close()
            raise
        return ticket

    def lengths(self) -> dict[str, int]:
        return {name: queue.waiting for name, queue in self._queues.items()}

    async def positions(self, ticket: Ticket) -> AsyncIterator[tuple[int, float]]:
        """(position, estimated wait in seconds) at once, on every change, and every 15 s,
        until the ticket is admitted. Past the longest wait: 429, or 503 while loading."""
        deadline = ticket.arrived + self.max_wait_s
        told = 0.0  # when the caller last heard the position
        while not ticket.admitted:
            if ticket.closed:
                raise GatewayError(499, "Stopped while waiting for the model", code="stopped")
            if ticket.running:  # its turn here: a slot shared with the other replicas next
                if await self._settle(ticket):
                    return
                if time.monotonic() - told >= KEEPALIVE_SECONDS:
                    told = time.monotonic()
                    yield 1, ticket.queue.estimate(1)
                if time.monotonic() >= deadline:
                    raise self._too_long(ticket)
                await asyncio.sleep(SHARED_POLL_SECONDS)
                continue
            ticket.changed.clear()
            told = time.monotonic()
            yield ticket.position, ticket.queue.estimate(ticket.position)
            left = deadline - time.monotonic()
            try:
                async with asyncio.timeout(min(left, KEEPALIVE_SECONDS)):
                    await ticket.changed.wait()
            except TimeoutError:
                if time.monotonic() >= deadline and not ticket.running:
                    raise self._too_long(ticket) from None

    async def wait(self, ticket: Ticket) -> None:
        async for _ in self.positions(ticket):
            pass

    async def _settle(self, ticket: Ticket) -> bool:
        """With Redis, try once to take a shared slot for a running ticket. Whether the
        ticket is admitted now."""
        if ticket.admitted or not ticket.running or ticket.closed or self._slots is None:
            return ticket.admitted
        slots = self._slots
        slot = await slots.take(ticket.queue.name, ticket.queue.limit)
        if slot is None:
            return False
        if ticket.closed:  # it left while we asked
            slots.give_back(slot)
            return False
        ticket.release_slot = lambda: slots.give_back(slot)
        ticket.admitted = True
        return True

    def _too_long(self, ticket: Ticket) -> GatewayError:
        ticket.close()
        self._on_reject(ticket.queue.name, "timeout")
        retry = max(1, round(ticket.queue.estimate(max(ticket.queue.waiting, 1))))
        if self._is_loading(ticket.queue.name):
            return GatewayError(
                503,
                "The model is still loading; try again later",
                code="engine_loading",
                retry_after=retry,
            )
        return GatewayError(
            429,
            "Waited too long for a free slot on this model",
            code="queue_timeout",
            retry_after=retry,
        )
