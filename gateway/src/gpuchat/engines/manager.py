"""The engine supervisor (in process): the ONE owner of every engine's state on this host.

Callers never read a state and then act on it; they call `acquire(alias)` (or
`ensure_ready`), `activate(name)` or `stop(name)`, which decide inside the owner
(see design.md beside this file). A switch, once decided here, runs in switching.py.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

from gpuchat.core.notices import Notice
from gpuchat.engines import logs
from gpuchat.engines.control import (
    RETRY_STOPPING_S,
    RETRY_UNAVAILABLE_S,
    ControlRefused,
    EngineState,
    EngineStatus,
    EngineUnavailable,
    SwitchConflict,
    UnknownModel,
    Upstream,
)
from gpuchat.engines.gpu import GpuMonitor, GpuReport
from gpuchat.engines.launchers import (
    EngineLog,
    LaunchUnavailable,
    plan_launch,
    unavailable_reason,
)
from gpuchat.engines.lifecycle import EngineLifecycle, is_ready
from gpuchat.engines.load import EngineLoads
from gpuchat.engines.profile_sets import aliases, plan_replacement, take_profile
from gpuchat.engines.profiles import Profile, ProfilesFile
from gpuchat.engines.runtime import Avoid, EngineRuntime, Probes, status_of
from gpuchat.engines.switching import Switches

# Re-exported: the names callers knew from here before control.py existed.
__all__ = ["EngineManager", "EngineState", "EngineUnavailable", "UnknownModel", "Upstream"]

log = logging.getLogger(__name__)

_is_ready = is_ready


class EngineManager(EngineLifecycle):
    def __init__(
        self,
        profiles: ProfilesFile,
        *,
        models_dir: Path,
        logs_dir: Path,
        vllm_command: tuple[str, ...] | None = None,
    ) -> None:
        self._models_dir, self._logs_dir = models_dir, logs_dir
        self._vllm_command = vllm_command
        self._engines = {p.name: self._new_engine(p) for p in profiles.profiles}
        self._by_alias = aliases(profiles)
        self._active = profiles.default_profile.name
        self._probes = Probes()
        self._closing = False
        self._close_task: asyncio.Task[None] | None = None
        self._switches = Switches(
            begin_start=self._begin_start, stop=self._stop, closing=lambda: self._closing
        )
        self._replica_task: asyncio.Task[None] | None = None
        self._gpu = GpuMonitor()
        self._loads = EngineLoads(self._load_targets, self._probes.client)
        # Last resort if the event loop dies before close(): no engine outlives the gateway.
        atexit.register(self._kill_now)

    # ---- public interface (control.EngineControl) --------------------------------------

    async def start(self, *, launch_default: bool = True, active: str | None = None) -> None:
        """Begin starting the active profile; returns without waiting for its health.
        Called again (a supervisor a second gateway joins, or that restarted): a different
        `active` is switched to, as an admin's switch would."""
        if self._replica_task is None and any(e.replicas for e in self._engines.values()):
            self._replica_task = asyncio.create_task(self._probe_replicas())
        self._loads.start()
        if active is not None and active != self._active and active in self._engines:
            current = self._engines[self._active]
            if not current.spawned or current.state is EngineState.stopped:
                self._active = active  # nothing to drain: start the chosen one directly
            else:
                with contextlib.suppress(ControlRefused):  # logged by activate
                    await self.activate(active)
                return
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
        """The settings the engine behind `alias` runs with (an edit waits for a restart)."""
        name = self._active if alias == "default" else self._by_alias.get(alias)
        if name is None:
            raise UnknownModel(alias)
        return self._engines[name].profile

    async def replace_profiles(
        self, profiles: ProfilesFile, *, revision: int | None = None
    ) -> None:
        """See control.EngineControl. Synchronous inside: no switch can begin halfway.
        `revision` is the supervisor's to compare (supervisor.py): in one process the
        database's transactions already order the changes."""
        change = plan_replacement(self._engines, profiles, self._active, self._switches.engines)
        for name in change.removed:
            del self._engines[name]
        for profile in change.added:
            self._engines[profile.name] = self._new_engine(profile)
        for engine, profile in change.edited:
            if engine.spawned and engine.state is not EngineState.stopped:
                engine.pending = profile  # it runs on; the next start takes the new settings
            else:
                take_profile(engine, profile, self._models_dir, self._vllm_command)
        for engine in self._engines.values():
            if engine.profile.name in change.unchanged:
                engine.pending = None  # edited back to what runs
        self._engines = {p.name: self._engines[p.name] for p in profiles.profiles}
        self._by_alias = aliases(profiles)
        if self._replica_task is None and any(e.replicas for e in self._engines.values()):
            self._replica_task = asyncio.create_task(self._probe_replicas())
        log.info("profiles replaced: %s", change)

    async def ensure_ready(self, alias: str) -> Upstream:
        """Start the profile behind `alias` if needed and wait (up to its start timeout)."""
        engine = await self._ready(alias)
        assert engine.plan is not None
        url = engine.plan.base_urls[0]
        if engine.replicas is not None:
            url = next((r.url for r in engine.replicas.replicas if r.healthy), url)
        model = engine.model or engine.profile.name
        return Upstream(engine.profile, url, model, context=engine.context)

    async def acquire(
        self, alias: str, *, affinity: str | None = None, avoid: Avoid = ()
    ) -> Upstream:
        """`ensure_ready`, plus a lease the caller releases when its request ends (`avoid`:
        replicas.py, `pick`)."""
        engine = await self._ready(alias)
        return self._lease(engine, affinity, avoid)  # no await since the ready check

    async def activate(self, name: str, *, wait: bool = False) -> EngineStatus:
        """Make `name` the active profile: drain and stop what it replaces, then start it."""
        engine = self._named(name)
        self._refuse_concurrent_switch()
        reason = unavailable_reason(
            engine.profile, models_dir=self._models_dir, vllm_command=self._vllm_command
        )
        if reason is not None:  # the UI shows the reason itself (on that profile's card)
            message = f"profile '{name}' cannot run on this host: {reason.message}"
            raise ControlRefused(Notice(reason.code, message, reason.params))
        previous = self._engines[self._active]
        victims = [
            other
            for other in self._engines.values()
            if other is not engine
            and other.spawned
            and other.state is not EngineState.stopped
            and (other is previous or other.shares_gpus(engine))
        ]
        if (
            engine.pending is not None
            and engine.spawned
            and engine.state is not EngineState.stopped
        ):
            victims.append(engine)  # edited while it ran: activating it restarts it
        engine.held = False
        self._active = name
        self._switches.activate(engine, victims)
        log.info("switching to %s (stopping %s)", name, [v.profile.name for v in victims])
        if wait:
            await self._switches.wait()
        return self._status(engine)

    async def stop(self, name: str, *, wait: bool = False) -> EngineStatus:
        """Drain and stop `name`; it stays stopped (not started on demand) until activated."""
        engine = self._named(name)
        if not engine.spawned:
            raise ControlRefused(
                Notice(
                    "external_engine",
                    f"'{name}' is an external engine: gpuchat does not run it",
                    {"name": name},
                )
            )
        self._refuse_concurrent_switch()
        engine.held = True
        self._switches.stop(engine)
        if wait:
            await self._switches.wait()
        return self._status(engine)

    def statuses(self) -> list[EngineStatus]:
        return [self._status(engine) for engine in self._engines.values()]

    def is_ready(self, alias: str = "default") -> bool:
        try:
            profile = self.profile_for(alias)
        except UnknownModel:
            return False
        return _is_ready(self._engines[profile.name])

    async def read_log(self, name: str, tail: int) -> list[str]:
        path = self._named(name).log.path
        return await asyncio.to_thread(logs.read_tail, path, tail)

    def follow_log(self, name: str) -> AsyncIterator[str]:
        return logs.follow(self._named(name).log.path)

    async def gpus(self) -> GpuReport:
        holders = {
            gpu: engine.profile.name
            for engine in self._engines.values()
            if engine.holds_gpus()
            for gpu in engine.profile.gpus
        }
        return await asyncio.to_thread(self._gpu.read, holders)

    # ---- decisions (synchronous, or with engine.lock held) ------------------------------

    async def _ready(self, alias: str) -> EngineRuntime:
        """The engine behind `alias`, ready and outside any switch; waits for both."""
        for _ in range(8):  # each turn waits for a switch or a start; more is a livelock
            engine = self._engines[self.profile_for(alias).name]
            switch = self._switches.task_touching(engine)
            if switch is not None:
                # New requests wait while a switch drains or starts their engine.
                await self._wait_for(engine, switch)
                continue
            if _is_ready(engine) and engine.model is not None:
                return engine
            async with engine.lock:
                if _is_ready(engine):
                    await self._learn_model(engine)
                    if _is_ready(engine) and engine not in self._switches.engines:
                        return engine
                    continue
                task = self._begin_start(engine)
            await self._wait_for(engine, task)
            if _is_ready(engine) and engine not in self._switches.engines:
                return engine
            if engine not in self._switches.engines:
                raise self._not_ready(engine)
        raise self._not_ready(engine)

    @staticmethod
    async def _wait_for(engine: EngineRuntime, task: asyncio.Task[None]) -> None:
        # wait() neither cancels the shared task when this caller goes away, nor raises.
        engine.waiting += 1
        try:
            await asyncio.wait({task})
        finally:
            engine.waiting -= 1

    def _lease(self, engine: EngineRuntime, affinity: str | None, avoid: Avoid) -> Upstream:
        upstream = engine.lease(affinity, avoid)
        if engine.replicas is not None and len(engine.replicas.replicas) > 1:
            tried, name = (*avoid, upstream.base_url), engine.profile.name
            upstream.failover = lambda: self.acquire(name, affinity=affinity, avoid=tried)
        return upstream

    def _begin_start(self, engine: EngineRuntime) -> asyncio.Task[None]:
        """The shared start of `engine`, beginning it if none runs; raises when refused."""
        if engine.start_task is not None and not engine.start_task.done():
            return engine.start_task
        name = engine.profile.name
        if self._closing:
            raise EngineUnavailable(SHUTTING_DOWN, RETRY_STOPPING_S)
        if engine.held:
            raise EngineUnavailable(_held(name), RETRY_UNAVAILABLE_S)
        if engine.state in (EngineState.draining, EngineState.stopping):
            raise EngineUnavailable(
                Notice("model_stopping", f"model '{name}' is being stopped", {"name": name}),
                RETRY_STOPPING_S,
            )
        if engine.restart_task is not None and not engine.restart_task.done():
            raise self._not_ready(engine)
        holder = next(
            (
                o
                for o in self._engines.values()
                if o is not engine and o.holds_gpus() and o.shares_gpus(engine)
            ),
            None,
        )
        if holder is not None:  # never two engines on one GPU
            holder_name = holder.profile.name
            raise EngineUnavailable(
                Notice(
                    "model_gpus_busy",
                    f"model '{name}' is not loaded: its GPUs serve '{holder_name}'",
                    {"name": name, "holder": holder_name},
                ),
                RETRY_UNAVAILABLE_S,
            )
        if engine.pending is not None:  # edited while it ran: this start takes the edit
            engine.profile, engine.pending = engine.pending, None
        try:
            plan = plan_launch(
                engine.profile, models_dir=self._models_dir, vllm_command=self._vllm_command
            )
        except LaunchUnavailable as exc:
            log.warning("engine %s cannot start: %s", name, exc)
            raise EngineUnavailable(
                Notice(
                    "model_unavailable_here",
                    f"model '{name}' is not available on this server",
                    {"name": name},
                ),
                RETRY_UNAVAILABLE_S,
            ) from exc
        engine.state, engine.plan, engine.model = EngineState.starting, plan, None
        engine.context = None
        engine.log.progress.reset()
        engine.start_task = asyncio.create_task(self._run_start(engine, plan))
        return engine.start_task

    def _not_ready(self, engine: EngineRuntime) -> EngineUnavailable:
        name = engine.profile.name
        if engine.restart_at is not None and engine.state is EngineState.failed:
            wait = math.ceil(engine.restart_at - time.monotonic())
            return EngineUnavailable(
                Notice(
                    "model_restarting", f"model '{name}' failed and is restarting", {"name": name}
                ),
                wait,
            )
        if engine.held:
            return EngineUnavailable(_held(name), RETRY_UNAVAILABLE_S)
        return EngineUnavailable(
            Notice("model_not_ready", f"model '{name}' is not ready", {"name": name}),
            RETRY_STOPPING_S,
        )

    def _new_engine(self, profile: Profile) -> EngineRuntime:
        engine = EngineRuntime(profile, EngineLog(self._logs_dir / f"{profile.name}.log"))
        if not engine.spawned:
            take_profile(engine, profile, self._models_dir, self._vllm_command)
        return engine

    def _named(self, name: str) -> EngineRuntime:
        try:
            return self._engines[name]
        except KeyError:
            raise UnknownModel(name) from None

    def _refuse_concurrent_switch(self) -> None:
        if self._switches.running():
            raise SwitchConflict
        if self._closing:
            raise ControlRefused(SHUTTING_DOWN)

    async def _close(self) -> None:
        self._switches.cancel()
        if self._replica_task is not None:
            self._replica_task.cancel()
        await self._loads.close()
        await asyncio.gather(*(self._stop(e) for e in self._engines.values()))
        tasks = [e.watch_task for e in self._engines.values() if e.watch_task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._probes.close()
        self._gpu.close()
        atexit.unregister(self._kill_now)

    def _status(self, engine: EngineRuntime) -> EngineStatus:
        active = engine.profile.name == self._active
        return status_of(
            engine,
            active=active,
            models_dir=self._models_dir,
            vllm_command=self._vllm_command,
            load=self._loads.get(engine.profile.name),
        )


SHUTTING_DOWN: Final = Notice("server_shutting_down", "the server is shutting down")


def _held(name: str) -> Notice:
    return Notice("model_held", f"model '{name}' was stopped by an administrator", {"name": name})
