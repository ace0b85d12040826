"""The engine supervisor (in process): the ONE owner of every engine's state on this host.

Callers never read a state and then act on it; they call `ensure_ready(alias)`, which
decides inside the owner (see design.md beside this file).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import math
import signal
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final

import aiohttp

from gpuchat.engines.launchers import (
    ChildProcess,
    EngineLog,
    LaunchPlan,
    LaunchUnavailable,
    plan_launch,
    unavailable_reason,
)
from gpuchat.engines.profiles import EngineKind, Profile, ProfilesFile

log = logging.getLogger(__name__)

STOP_GRACE_S: Final = 10.0
BACKOFF_FIRST_S: Final = 1.0
BACKOFF_MAX_S: Final = 30.0
STABLE_AFTER_S: Final = 60.0  # ready this long: the next crash starts the backoff again
HEALTH_POLL_S: Final = 0.25
HEALTH_TIMEOUT_S: Final = 2.0
RETRY_UNAVAILABLE_S: Final = 60
RETRY_STOPPING_S: Final = 5
DISCOVER_RETRY_S: Final = 30.0


class EngineState(StrEnum):
    stopped = "stopped"
    starting = "starting"
    ready = "ready"
    draining = "draining"
    stopping = "stopping"
    failed = "failed"


@dataclass(frozen=True, slots=True)
class Upstream:
    profile: Profile
    base_url: str  # e.g. "http://127.0.0.1:41234/v1", no trailing slash
    model: str  # the "model" to send upstream


class UnknownModel(Exception):
    def __init__(self, alias: str) -> None:
        super().__init__(f"model '{alias}' does not exist")
        self.alias = alias


class EngineUnavailable(Exception):
    def __init__(self, message: str, retry_after: int = RETRY_STOPPING_S) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = max(1, retry_after)


@dataclass(frozen=True, slots=True)
class EngineStatus:
    name: str
    engine: EngineKind
    state: EngineState
    aliases: tuple[str, ...]
    pid: int | None
    port: int | None
    base_url: str | None
    started_at: float | None  # wall clock (time.time()) of the current process's spawn
    last_error: str | None
    available: bool
    reason: str | None  # why it is not available on this host


@dataclass(eq=False)
class _Engine:
    profile: Profile
    log: EngineLog
    state: EngineState = EngineState.stopped
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    plan: LaunchPlan | None = None
    child: ChildProcess | None = None
    model: str | None = None
    started_at: float | None = None
    ready_since: float | None = None  # monotonic
    last_error: str | None = None
    failures: int = 0  # consecutive, for the restart backoff
    restart_at: float | None = None  # monotonic
    discover_after: float = 0.0  # monotonic; external engines' model discovery
    start_task: asyncio.Task[None] | None = None
    watch_task: asyncio.Task[None] | None = None
    restart_task: asyncio.Task[None] | None = None


def _is_ready(engine: _Engine) -> bool:
    return engine.state is EngineState.ready


class EngineManager:
    def __init__(self, profiles: ProfilesFile, *, models_dir: Path, logs_dir: Path) -> None:
        self._models_dir = models_dir
        self._engines = {
            p.name: _Engine(p, EngineLog(logs_dir / f"{p.name}.log")) for p in profiles.profiles
        }
        self._by_alias = {n: p for p in profiles.profiles for n in p.names if n != "default"}
        self._active = profiles.default_profile.name
        self._http: aiohttp.ClientSession | None = None
        self._closing = False
        self._close_task: asyncio.Task[None] | None = None
        for engine in self._engines.values():
            if engine.profile.engine is EngineKind.external:
                engine.plan = plan_launch(engine.profile, models_dir=models_dir)
                engine.state = EngineState.ready  # nothing to run; health is the upstream's
        # Last resort if the event loop dies before close(): no engine outlives the gateway.
        atexit.register(self._kill_now)

    # ---- public interface -------------------------------------------------------------

    async def start(self, *, launch_default: bool = True) -> None:
        """Begin starting the default profile; returns without waiting for its health."""
        self._client()
        if not launch_default:
            return
        engine = self._engines[self._active]
        async with engine.lock:
            if engine.state is EngineState.ready:
                return
            with contextlib.suppress(EngineUnavailable):  # logged; statuses() say why
                self._begin_start(engine)

    async def close(self) -> None:
        """Stop every child (SIGTERM, then SIGKILL after a grace). Idempotent."""
        self._closing = True
        if self._close_task is None:
            self._close_task = asyncio.create_task(self._close())
        await asyncio.shield(self._close_task)

    def profile_for(self, alias: str) -> Profile:
        if alias == "default":
            return self._engines[self._active].profile
        try:
            return self._by_alias[alias]
        except KeyError:
            raise UnknownModel(alias) from None

    async def ensure_ready(self, alias: str) -> Upstream:
        """Start the profile behind `alias` if needed and wait (up to its start timeout)."""
        engine = self._engines[self.profile_for(alias).name]
        if engine.state is EngineState.ready and engine.model is not None:
            return self._upstream(engine)
        async with engine.lock:
            if engine.state is EngineState.ready:
                await self._learn_model(engine)
                return self._upstream(engine)
            task = self._begin_start(engine)
        # wait() neither cancels the shared start when this caller goes away, nor raises.
        await asyncio.wait({task})
        if _is_ready(engine):  # (a function: mypy keeps the narrowing from before the await)
            return self._upstream(engine)
        raise self._not_ready(engine)

    def statuses(self) -> list[EngineStatus]:
        return [self._status(engine) for engine in self._engines.values()]

    def is_ready(self, alias: str = "default") -> bool:
        try:
            profile = self.profile_for(alias)
        except UnknownModel:
            return False
        return _is_ready(self._engines[profile.name])

    # ---- decisions (called with engine.lock held) -------------------------------------

    def _begin_start(self, engine: _Engine) -> asyncio.Task[None]:
        """The shared start of `engine`, beginning it if none runs; raises when refused."""
        if engine.start_task is not None and not engine.start_task.done():
            return engine.start_task
        name = engine.profile.name
        if self._closing:
            raise EngineUnavailable("the server is shutting down", RETRY_STOPPING_S)
        if engine.state in (EngineState.draining, EngineState.stopping):
            raise EngineUnavailable(f"model '{name}' is being stopped", RETRY_STOPPING_S)
        if engine.restart_task is not None and not engine.restart_task.done():
            raise self._not_ready(engine)
        try:
            plan = plan_launch(engine.profile, models_dir=self._models_dir)
        except LaunchUnavailable as exc:
            log.warning("engine %s cannot start: %s", name, exc)
            raise EngineUnavailable(
                f"model '{name}' is not available on this server", RETRY_UNAVAILABLE_S
            ) from exc
        engine.state, engine.plan, engine.model = EngineState.starting, plan, None
        engine.start_task = asyncio.create_task(self._run_start(engine, plan))
        return engine.start_task

    def _not_ready(self, engine: _Engine) -> EngineUnavailable:
        name = engine.profile.name
        if engine.restart_at is not None and engine.state is EngineState.failed:
            wait = math.ceil(engine.restart_at - time.monotonic())
            return EngineUnavailable(f"model '{name}' failed and is restarting", wait)
        return EngineUnavailable(f"model '{name}' is not ready", RETRY_STOPPING_S)

    # ---- lifecycle tasks ---------------------------------------------------------------

    async def _run_start(self, engine: _Engine, plan: LaunchPlan) -> None:
        profile = engine.profile
        assert plan.argv is not None
        try:
            child = await self._spawn(engine, plan.argv)
        except OSError as exc:
            self._mark_failed(engine, f"cannot start {plan.argv[0]}: {exc}")
            return
        engine.child, engine.started_at = child, time.time()
        engine.watch_task = asyncio.create_task(self._watch(engine, child))
        log.info("engine %s starting (pid %d, port %s)", profile.name, child.pid, plan.port)
        healthy = await self._wait_healthy(child, plan, profile.timeouts.start)
        model = (plan.model or await self._discover_model(plan)) if healthy else None
        if engine.child is not child:
            return  # stopped, or exited (the watcher recorded it), meanwhile
        if healthy:
            engine.model = model or profile.name
            engine.state, engine.ready_since, engine.last_error = (
                EngineState.ready,
                time.monotonic(),
                None,
            )
            child.log.note("ready")
            log.info("engine %s ready after %.1fs", profile.name, time.time() - engine.started_at)
        elif child.returncode is None:
            engine.child = None  # ours to stop now, not an unexpected exit
            child.log.note(f"not healthy within {profile.timeouts.start:g}s, stopping it")
            await asyncio.shield(child.stop(STOP_GRACE_S))  # finishes even if we are cancelled
            self._mark_failed(engine, f"did not become healthy within {profile.timeouts.start:g}s")
        else:
            await asyncio.wait({engine.watch_task})  # the watcher records the exit

    async def _spawn(self, engine: _Engine, argv: tuple[str, ...]) -> ChildProcess:
        spawning = asyncio.ensure_future(ChildProcess.spawn(argv, engine.log))
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
                    if await self._probe(plan.health_url):
                        return True
                    await asyncio.sleep(HEALTH_POLL_S)
        return False

    async def _watch(self, engine: _Engine, child: ChildProcess) -> None:
        code = await child.wait()
        if engine.child is child:  # nobody asked it to stop
            when = "while starting" if engine.state is EngineState.starting else "unexpectedly"
            self._mark_failed(engine, f"exited {when} with code {code}")

    def _mark_failed(self, engine: _Engine, message: str) -> None:
        engine.child, engine.plan = None, None
        engine.state = EngineState.failed
        tail = engine.log.tail()
        engine.last_error = f"{message}\n--- last lines of {engine.log.path} ---\n{tail}"
        log.warning("engine %s failed: %s", engine.profile.name, message)
        if self._closing:
            return
        ready_for = time.monotonic() - engine.ready_since if engine.ready_since else 0.0
        if ready_for > STABLE_AFTER_S:
            engine.failures = 0
        engine.ready_since = None
        delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2**engine.failures)
        engine.failures += 1
        engine.restart_at = time.monotonic() + delay
        engine.restart_task = asyncio.create_task(self._restart_later(engine, delay))

    async def _restart_later(self, engine: _Engine, delay: float) -> None:
        await asyncio.sleep(delay)
        async with engine.lock:
            engine.restart_task, engine.restart_at = None, None
            if self._closing or engine.state is not EngineState.failed:
                return
            log.info("engine %s: restart attempt %d", engine.profile.name, engine.failures)
            with contextlib.suppress(EngineUnavailable):  # e.g. its model file was removed
                self._begin_start(engine)

    async def _stop(self, engine: _Engine) -> None:
        for task in (engine.restart_task, engine.start_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        child, engine.child = engine.child, None
        if child is not None:
            engine.state = EngineState.stopping
            await child.stop(STOP_GRACE_S)
        if engine.profile.engine is not EngineKind.external:
            engine.state, engine.plan, engine.started_at = EngineState.stopped, None, None

    async def _close(self) -> None:
        await asyncio.gather(*(self._stop(e) for e in self._engines.values()))
        tasks = [e.watch_task for e in self._engines.values() if e.watch_task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        atexit.unregister(self._kill_now)

    def _kill_now(self) -> None:
        for engine in self._engines.values():
            if engine.child is not None:
                engine.child.signal_group(signal.SIGKILL)

    # ---- helpers -----------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            timeout = aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_S)
            self._http = aiohttp.ClientSession(timeout=timeout)
        return self._http

    async def _probe(self, url: str) -> bool:
        try:
            async with self._client().get(url, allow_redirects=False) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def _discover_model(self, plan: LaunchPlan) -> str | None:
        """What the engine calls its model, from GET /models; None when it will not say."""
        try:
            url = f"{plan.base_urls[0]}/models"
            async with self._client().get(url, allow_redirects=False) as response:
                body = await response.json(content_type=None)
            model = body["data"][0]["id"]
        except (aiohttp.ClientError, TimeoutError, ValueError, LookupError, TypeError):
            return None
        return model if isinstance(model, str) and model else None

    async def _learn_model(self, engine: _Engine) -> None:
        """External engines: ask once what they serve (again later if they would not say)."""
        if engine.model is not None or engine.plan is None:
            return
        if engine.plan.model is not None:
            engine.model = engine.plan.model
        elif time.monotonic() >= engine.discover_after:
            engine.model = await self._discover_model(engine.plan)
            engine.discover_after = time.monotonic() + DISCOVER_RETRY_S

    def _upstream(self, engine: _Engine) -> Upstream:
        assert engine.plan is not None
        model = engine.model or engine.profile.name
        return Upstream(engine.profile, engine.plan.base_urls[0], model)

    def _status(self, engine: _Engine) -> EngineStatus:
        profile, plan, child = engine.profile, engine.plan, engine.child
        reason = unavailable_reason(profile, models_dir=self._models_dir)
        return EngineStatus(
            name=profile.name,
            engine=profile.engine,
            state=engine.state,
            aliases=tuple(profile.aliases),
            pid=child.pid if child is not None else None,
            port=plan.port if plan is not None else None,
            base_url=plan.base_urls[0] if plan is not None else None,
            started_at=engine.started_at,
            last_error=engine.last_error,
            available=reason is None,
            reason=reason,
        )
