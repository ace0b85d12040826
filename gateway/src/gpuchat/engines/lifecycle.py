"""How one engine's process is started, watched, restarted and stopped; what external
engines serve and which engines' /metrics to read.

`EngineManager` (manager.py) inherits this and makes every decision: which engine starts,
when a switch drains, what a caller may do. The methods here run inside the manager's
tasks and change an engine's state only along the lifecycle in design.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from pathlib import Path
from typing import Final

from gpuchat.core.notices import Notice
from gpuchat.engines.control import EngineState, EngineUnavailable
from gpuchat.engines.launchers import ChildProcess, LaunchPlan
from gpuchat.engines.runtime import EngineRuntime, Probes

log = logging.getLogger("gpuchat.engines.manager")

STOP_GRACE_S: Final = 10.0
BACKOFF_FIRST_S: Final = 1.0
BACKOFF_MAX_S: Final = 30.0
STABLE_AFTER_S: Final = 60.0  # ready this long: the next crash starts the backoff again
HEALTH_POLL_S: Final = 0.25  # while starting
HEALTH_FAILURES: Final = 3  # failed checks in a row before a ready engine is restarted
DISCOVER_RETRY_S: Final = 30.0  # an external engine that would not say what it serves
REPLICA_POLL_S: Final = 0.5


def is_ready(engine: EngineRuntime) -> bool:
    # A function, not an inline comparison: mypy keeps no stale narrowing across awaits.
    return engine.state is EngineState.ready


class EngineLifecycle:
    """The process side of the manager; `_begin_start` is the manager's decision."""

    health_interval_s = 10.0  # health checks while ready (tests shorten it)
    _engines: dict[str, EngineRuntime]
    _models_dir: Path
    _probes: Probes
    _closing: bool

    def _begin_start(self, engine: EngineRuntime) -> asyncio.Task[None]:
        raise NotImplementedError

    async def _run_start(self, engine: EngineRuntime, plan: LaunchPlan) -> None:
        profile = engine.profile
        assert plan.argv is not None
        try:
            child = await self._spawn(engine, plan)
        except OSError as exc:
            self._mark_failed(
                engine,
                Notice(
                    "engine_cannot_start",
                    f"cannot start {plan.argv[0]}: {exc}",
                    {"program": plan.argv[0], "detail": str(exc)},
                ),
            )
            return
        engine.child, engine.started_at = child, time.time()
        engine.watch_task = asyncio.create_task(self._watch(engine, child))
        log.info("engine %s starting (pid %d, port %s)", profile.name, child.pid, plan.port)
        healthy = await self._wait_healthy(child, plan, profile.timeouts.start)
        served = await self._probes.served(plan.base_urls[0]) if healthy else None
        if engine.child is not child:
            return  # stopped, or exited (the watcher recorded it), meanwhile
        if healthy:
            engine.model = plan.model or (served.model if served else None) or profile.name
            engine.context = served.context if served else None
            engine.state, engine.ready_since = EngineState.ready, time.monotonic()
            engine.healthy, engine.last_error, engine.last_error_notice = True, None, None
            engine.log.progress.done()
            child.log.note("ready")
            log.info("engine %s ready after %.1fs", profile.name, time.time() - engine.started_at)
        elif child.returncode is None:
            engine.child = None  # ours to stop now, not an unexpected exit
            child.log.note(f"not healthy within {profile.timeouts.start:g}s, stopping it")
            await asyncio.shield(child.stop(STOP_GRACE_S))  # finishes even if we are cancelled
            seconds = f"{profile.timeouts.start:g}"
            self._mark_failed(
                engine,
                Notice(
                    "engine_start_timeout",
                    f"did not become healthy within {seconds}s",
                    {"seconds": seconds},
                ),
            )
        else:
            await asyncio.wait({engine.watch_task})  # the watcher records the exit

    async def _spawn(self, engine: EngineRuntime, plan: LaunchPlan) -> ChildProcess:
        assert plan.argv is not None
        spawning = asyncio.ensure_future(ChildProcess.spawn(plan.argv, engine.log, plan.env))
        try:
            return await asyncio.shield(spawning)
        except asyncio.CancelledError:
            # The fork may have happened already: never leave that child behind.
            with contextlib.suppress(Exception):
                await (await spawning).stop(STOP_GRACE_S)
            raise

    async def _wait_healthy(self, child: ChildProcess, plan: LaunchPlan, within: float) -> bool:
        assert plan.health_url is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while child.returncode is None:
                    if await self._probes.healthy(plan.health_url):
                        return True
                    await asyncio.sleep(HEALTH_POLL_S)
        return False

    async def _watch(self, engine: EngineRuntime, child: ChildProcess) -> None:
        """Record an unexpected exit; while ready, restart an engine that stops answering."""
        exited = asyncio.ensure_future(child.wait())
        failures = 0
        while not (await asyncio.wait({exited}, timeout=self.health_interval_s))[0]:
            plan = engine.plan
            if engine.child is not child or not is_ready(engine) or plan is None:
                continue
            assert plan.health_url is not None
            engine.healthy = await self._probes.healthy(plan.health_url)
            failures = 0 if engine.healthy else failures + 1
            if failures >= HEALTH_FAILURES and engine.child is child:
                engine.child = None  # ours to stop: not an unexpected exit
                child.log.note(f"no answer to {failures} health checks, restarting it")
                await child.stop(STOP_GRACE_S)
                self._mark_failed(
                    engine,
                    Notice(
                        "engine_unhealthy",
                        f"stopped answering health checks ({failures} times)",
                        {"count": failures},
                    ),
                )
                return
        if engine.child is child:  # nobody asked it to stop
            code = exited.result()
            if engine.state is EngineState.starting:
                why = Notice(
                    "engine_exited_starting",
                    f"exited while starting with code {code}",
                    {"code": code},
                )
            else:
                why = Notice(
                    "engine_exited", f"exited unexpectedly with code {code}", {"code": code}
                )
            self._mark_failed(engine, why)

    def _mark_failed(self, engine: EngineRuntime, why: Notice) -> None:
        engine.child, engine.plan, engine.healthy = None, None, None
        engine.state = EngineState.failed
        engine.log.progress.clear()
        tail = engine.log.tail()
        engine.last_error = f"{why.message}\n--- last lines of {engine.log.path} ---\n{tail}"
        engine.last_error_notice = why
        log.warning("engine %s failed: %s", engine.profile.name, why.message)
        if self._closing or engine.held:
            return
        ready_for = time.monotonic() - engine.ready_since if engine.ready_since else 0.0
        if ready_for > STABLE_AFTER_S:
            engine.failures = 0
        engine.ready_since = None
        delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2**engine.failures)
        engine.failures += 1
        engine.restart_at = time.monotonic() + delay
        engine.restart_task = asyncio.create_task(self._restart_later(engine, delay))

    async def _restart_later(self, engine: EngineRuntime, delay: float) -> None:
        await asyncio.sleep(delay)
        async with engine.lock:
            engine.restart_task, engine.restart_at = None, None
            if self._closing or engine.state is not EngineState.failed:
                return
            log.info("engine %s: restart attempt %d", engine.profile.name, engine.failures)
            with contextlib.suppress(EngineUnavailable):  # e.g. its model file was removed
                self._begin_start(engine)

    async def _stop(self, engine: EngineRuntime) -> None:
        for task in (engine.restart_task, engine.start_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        engine.restart_at = None
        child, engine.child = engine.child, None
        if child is not None:
            engine.state = EngineState.stopping
            await child.stop(STOP_GRACE_S)
        if engine.spawned:
            engine.state, engine.plan, engine.started_at = EngineState.stopped, None, None
            engine.healthy, engine.ready_since = None, None
            engine.log.progress.clear()

    def _kill_now(self) -> None:
        for engine in self._engines.values():
            if engine.child is not None:
                engine.child.signal_group(signal.SIGKILL)

    # ---- external engines, and every engine's /metrics -----------------------------------

    async def _probe_replicas(self) -> None:
        """Re-probe unhealthy replicas (with backoff) and check healthy ones now and then."""
        while not self._closing:
            due = [
                (engine.replicas, replica)
                for engine in self._engines.values()
                if engine.replicas is not None
                for replica in engine.replicas.due_for_probe()
            ]
            results = await asyncio.gather(*(self._probes.reachable(r.url) for _, r in due))
            for (replicas, replica), ok in zip(due, results, strict=True):
                replicas.mark(replica, healthy=ok)
            await asyncio.sleep(REPLICA_POLL_S)

    async def _learn_model(self, engine: EngineRuntime) -> None:
        """External engines: ask once what they serve (again later if they would not say)."""
        if engine.model is not None or engine.plan is None:
            return
        if time.monotonic() >= engine.discover_after:
            served = await self._probes.served(engine.plan.base_urls[0])
            engine.model = engine.plan.model or (served.model if served else None)
            engine.context = served.context if served else None
            engine.discover_after = time.monotonic() + DISCOVER_RETRY_S

    def _load_targets(self) -> list[tuple[str, str]]:
        """The ready engines, whose /metrics may say their load (vLLM's does; any other
        answer is asked again only after a minute)."""
        return [
            (engine.profile.name, engine.plan.base_urls[0].removesuffix("/v1") + "/metrics")
            for engine in self._engines.values()
            if engine.state is EngineState.ready and engine.plan is not None
        ]
