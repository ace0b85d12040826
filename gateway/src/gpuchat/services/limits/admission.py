"""Admission: a fair queue per engine (`services/limits/queue.py`), its waits and limits.

A request waits at most `max_wait_s`: past it, 429 (or 503 while the engine is loading)
with Retry-After.

With Redis, the engine's limit and the queue hold across replicas (`services/limits/slots.py`): a
ticket whose turn has come here ("running") also takes a slot shared by every replica before
it is admitted, and every ticket not yet admitted holds a place in a queue shared by the
replicas, first come first served between them. Its position then counts every replica's
waiting requests; one task per process (`_follow_shared`) keeps positions true and takes the
slots, every `SHARED_POLL_SECONDS` while anything waits. While Redis is out, each process
keeps its own limit and numbers its own queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Final

import structlog

from gpuchat.core.errors import GatewayError
from gpuchat.engines.load import EngineLoad
from gpuchat.openai.sse import KEEPALIVE_SECONDS
from gpuchat.services.limits.queue import EngineQueue, Ticket
from gpuchat.services.limits.slots import Place, SharedSlots

SHARED_POLL_SECONDS: Final = 0.05  # how often the shared queue is looked at while one waits
LOAD_POLL_SECONDS: Final = 0.5  # how often engine loads are looked at (scraped every 1 s)

log = structlog.get_logger(__name__)


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
        self._shared_task: asyncio.Task[None] | None = None
        self.max_length = max_length
        self.max_wait_s = max_wait_s
        self._is_loading = is_loading
        self._queues: dict[str, EngineQueue] = {}

    async def start(self) -> None:
        if self._slots is not None:
            await self._slots.start()
            self._shared_task = asyncio.create_task(self._follow_shared(self._slots))
        if self._loads is not None and self._load_task is None:
            self._load_task = asyncio.create_task(self._follow_loads(self._loads))

    async def close(self) -> None:
        for task in (self._load_task, self._shared_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
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
        admitted, or waiting with its place among every replica's (`wait()`/`positions()`
        take it from there)."""
        ticket = self.enter(engine, limit, user)
        try:
            if not await self._settle(ticket):
                await self._sync(ticket.queue)
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
        if ticket.place is None and not await self._settle(ticket):
            await self._sync(ticket.queue)  # shared: a place, and a position counting all
        while not ticket.admitted:
            if ticket.closed:
                raise GatewayError(499, "Stopped while waiting for the model", code="stopped")
            ticket.changed.clear()
            yield ticket.position, ticket.queue.estimate(ticket.position)
            left = deadline - time.monotonic()
            try:
                async with asyncio.timeout(max(0.0, min(left, KEEPALIVE_SECONDS))):
                    await ticket.changed.wait()
            except TimeoutError:
                if time.monotonic() >= deadline and not ticket.admitted:
                    raise self._too_long(ticket) from None

    async def wait(self, ticket: Ticket) -> None:
        async for _ in self.positions(ticket):
            pass

    async def _settle(self, ticket: Ticket) -> bool:
        """With Redis, try once to take a shared slot for a running ticket, as long as
        nobody waits for one. Whether the ticket is admitted now."""
        if ticket.admitted or not ticket.running or ticket.closed or self._slots is None:
            return ticket.admitted
        async with ticket.queue.lock:  # not while `_sync` gives it a place
            return ticket.admitted or await self._take(self._slots, ticket, None)

    async def _take(self, slots: SharedSlots, ticket: Ticket, place: Place | None) -> bool:
        """A shared slot for a running ticket standing on `place`."""
        slot = await slots.take(ticket.queue.name, ticket.queue.limit, place, ticket.place)
        if slot is None:
            return False
        if ticket.closed:  # it left while we asked
            slots.give_back(slot)
            return False
        ticket.release_slot = functools.partial(slots.give_back, slot)
        ticket.release_place = None  # taking the slot gave the place up
        ticket.queue.admitted(ticket)
        return True

    async def _follow_shared(self, slots: SharedSlots) -> None:
        while True:
            took = False
            for queue in list(self._queues.values()):
                try:
                    took = await self._sync(queue) or took
                except Exception:  # a bug here must not stop every queue for good
                    log.exception("shared_queue_failed", engine=queue.name)
            if not took:  # one taken: look again at once, another may be free
                await asyncio.sleep(SHARED_POLL_SECONDS)

    async def _sync(self, queue: EngineQueue) -> bool:
        """With Redis: hold a place for each ticket not yet admitted, number them among
        every replica's, and take the slots their places have come to. Whether one was
        taken."""
        slots = self._slots
        if slots is None or not (tickets := queue.order()):
            return False
        async with queue.lock:
            tickets = [t for t in queue.order() if not t.closed]
            for ticket in tickets:
                if ticket.place is None:
                    ticket.place = slots.new_place()
                    ticket.release_place = functools.partial(slots.leave, ticket.place)
            view = await slots.look(queue.name, [t.place for t in tickets if t.place])
            if view is None:  # Redis is out: this process's limit and queue only
                queue.number_locally()
                running = [t for t in tickets if t.running]
                return any([await self._take(slots, t, None) for t in running])
            # The i-th ticket in this replica's order stands on its i-th earliest place.
            places = sorted((t.place for t in tickets if t.place), key=lambda p: p.order)
            free = queue.limit - view.held
            for ticket, place in zip(tickets, places, strict=True):
                position = view.rank(place) + 1
                if ticket.running and position <= free and await self._take(slots, ticket, place):
                    return True  # the places have changed: look again
                ticket.move_to(position)
            return False

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
