"""The host's one switch at a time: drain and stop the engines it replaces, then start the
new one (design.md, "Switching").

`EngineManager` decides what a switch does (which engine, which victims, whether one may
begin at all) and holds one `Switches`; this runs the decision in a task and says which
engines it touches until that task ends, so new requests for them wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from gpuchat.engines.control import EngineState, EngineUnavailable
from gpuchat.engines.lifecycle import is_ready
from gpuchat.engines.runtime import EngineRuntime


class Switches:
    def __init__(
        self,
        *,
        begin_start: Callable[[EngineRuntime], asyncio.Task[None]],
        stop: Callable[[EngineRuntime], Awaitable[None]],
        closing: Callable[[], bool],
    ) -> None:
        # The manager's: its start decision, its process stop, and whether it is closing.
        self._begin_start, self._stop, self._closing = begin_start, stop, closing
        self._task: asyncio.Task[None] | None = None
        self.engines: frozenset[EngineRuntime] = frozenset()  # those the running switch touches

    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def task_touching(self, engine: EngineRuntime) -> asyncio.Task[None] | None:
        """The running switch's task if it drains or starts `engine` (its callers wait)."""
        return self._task if engine in self.engines else None

    def activate(self, target: EngineRuntime, victims: list[EngineRuntime]) -> None:
        """Begin the switch to `target`; `victims` stop admitting new leases at once."""
        self._begin({target, *victims}, self._run(target, victims), victims)

    def stop(self, engine: EngineRuntime) -> None:
        """Begin draining and stopping `engine`; it stops admitting new leases at once."""
        self._begin({engine}, self._drain_and_stop(engine), [engine])

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.wait({self._task})

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def _begin(
        self,
        engines: set[EngineRuntime],
        work: Coroutine[Any, Any, None],
        draining: list[EngineRuntime],
    ) -> None:
        for engine in draining:
            # Part of the switch decision: from here on no new lease goes to this engine.
            if is_ready(engine):
                engine.state = EngineState.draining
        self.engines = frozenset(engines)
        self._task = asyncio.create_task(self._done(work))

    async def _done(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        finally:
            self.engines = frozenset()

    async def _run(self, target: EngineRuntime, victims: list[EngineRuntime]) -> None:
        began = time.monotonic()
        await asyncio.gather(*(self._drain_and_stop(v) for v in victims))
        if self._closing() or not target.spawned:
            return
        async with target.lock:
            if is_ready(target):
                return
            try:
                task = self._begin_start(target)
            except EngineUnavailable as exc:
                target.last_error, target.last_error_notice = exc.message, exc.notice
                return
        await asyncio.wait({task})
        if is_ready(target):
            # What the admin waited: the old engine's drain and stop, then the new start.
            target.switch_s = round(time.monotonic() - began, 1)
            target.log.note(f"switch took {target.switch_s:g}s")

    async def _drain_and_stop(self, engine: EngineRuntime) -> None:
        """Let the leases of a draining engine end (within its grace), then stop it."""
        grace = engine.profile.timeouts.drain
        if engine.state is EngineState.draining:
            engine.log.note(f"draining: {len(engine.leases)} in flight, up to {grace:g}s")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await engine.idle.wait()
            if engine.leases:
                # Engines finish their streams on SIGTERM; the clients must not wait for it.
                engine.log.note(f"grace over: ending {len(engine.leases)} requests in flight")
                for lease in list(engine.leases):
                    lease.revoke()
        await self._stop(engine)
