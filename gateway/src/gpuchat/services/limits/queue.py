"""The fair queue in front of one engine: at most `max_concurrency` requests in flight.

Beyond an engine's limit, requests wait in a queue served round-robin across users: the
user at the head of the rotation gets the next free slot and goes to the back if they still
have requests waiting, so one user with many requests cannot starve the others. Each
waiting request knows its position (recomputed on every change: arrival, departure,
admission) and an estimated wait from the engine's recent request durations. A newcomer
may take a place ahead of a heavy user's later requests; that is the fairness.

The queue is bounded in length: past it, 429 with Retry-After. One user holds at most a
share of its places (429 `queue_share_exceeded`), so one user's burst leaves room for
everyone else. A ticket's slot is released exactly once by `Ticket.close()`, which is plain,
synchronous and safe to repeat (the relay's `finish()` calls it).

Engine-aware (a profile's `engine_aware_admission`, on by default): an engine that reports
its own load (vLLM's `/metrics`: requests waiting inside it, KV-cache use) and says it is
full sets a lower `capacity` than the static limit: what it is running now. Requests beyond
it wait here, where their users see their place, instead of invisibly inside the engine (or
preempted there). While the engine has room again the capacity grows back a quarter at a
time, until the static limit takes over.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from typing import Final

from gpuchat.core.errors import GatewayError
from gpuchat.engines.load import EngineLoad
from gpuchat.services.limits.slots import Place

INITIAL_SERVICE_SECONDS: Final = 10.0  # the estimate before an engine has served anything
SMOOTHING: Final = 0.2
KV_CACHE_FULL: Final = 0.95  # a KV cache this full has no room for another request


class Ticket:
    """One request's place: waiting (position >= 1), running (its turn here), admitted
    (running and, with Redis, holding a slot shared by the replicas) or closed."""

    __slots__ = (
        "admitted",
        "arrived",
        "changed",
        "closed",
        "place",
        "position",
        "queue",
        "release_place",
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
        self.place: Place | None = None  # in the queue shared by the replicas
        self.release_place: Callable[[], None] | None = None

    @property
    def waited_ms(self) -> int:
        return round(((self.started or time.monotonic()) - self.arrived) * 1000)

    def move_to(self, position: int) -> None:
        if position != self.position:
            self.position = position
            self.changed.set()

    def close(self) -> None:
        """Leave the queue, or give the slot back. Exactly once, whatever calls it."""
        if not self.closed:
            self.closed = True
            for release in (self.release_slot, self.release_place):
                if release is not None:
                    release()
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
        self._unadmitted: list[Ticket] = []  # shared: running here, no shared slot yet
        self._service_s = INITIAL_SERVICE_SECONDS
        self.lock = asyncio.Lock()  # one look at, or slot taken from, the shared queue

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
            if ticket.admitted:
                assert ticket.started is not None
                held = time.monotonic() - ticket.started
                self._service_s += SMOOTHING * (held - self._service_s)
            else:
                self._unadmitted.remove(ticket)
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

    def order(self) -> list[Ticket]:
        """The tickets not admitted yet, first served first: running here (waiting for a
        shared slot), then the waiting ones."""
        return [*self._unadmitted, *self._rotation()]

    def admitted(self, ticket: Ticket) -> None:
        """A running ticket took its shared slot."""
        self._unadmitted.remove(ticket)
        ticket.admitted, ticket.position, ticket.started = True, 0, time.monotonic()
        ticket.changed.set()

    def _admit(self, ticket: Ticket) -> None:
        ticket.running, ticket.started = True, time.monotonic()
        self.inflight += 1
        if self.shared:
            self._unadmitted.append(ticket)
        else:
            ticket.admitted, ticket.position = True, 0
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

    def _rotation(self) -> Iterator[Ticket]:
        """The waiting tickets in service order: round by round, users in rotation order."""
        queues = list(self._users.values())
        depth = 0
        while queues:
            queues = [q for q in queues if len(q) > depth]
            for waiting in queues:
                yield waiting[depth]
            depth += 1

    def _renumber(self) -> None:
        if not self.shared:  # shared: the positions count every replica's (`_sync`)
            self.number_locally()

    def number_locally(self) -> None:
        for position, ticket in enumerate(self._rotation(), start=1):
            ticket.move_to(position)
