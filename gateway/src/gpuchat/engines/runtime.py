"""The manager's private per-engine record, its HTTP probes and its status view.

Only `EngineManager` (manager.py) changes an `EngineRuntime`; this module holds the parts
that do not decide anything: asking an engine whether it is healthy, what it calls its
model, and turning the record into the `EngineStatus` the admin page shows.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, NamedTuple

import aiohttp

from gpuchat.core.notices import Notice
from gpuchat.engines.control import EngineState, EngineStatus, Lease, Upstream
from gpuchat.engines.launchers import (
    ChildProcess,
    EngineLog,
    LaunchPlan,
    unavailable_reason,
)
from gpuchat.engines.load import EngineLoad
from gpuchat.engines.profiles import EngineKind, Profile
from gpuchat.engines.replicas import ReplicaSet

HEALTH_TIMEOUT_S: Final = 2.0
Avoid = tuple[str, ...]  # replica URLs a request failed on before any answer came

# States in which an engine's process exists (or is about to), so it holds its GPUs.
HOLDS_GPUS: Final = frozenset(
    {EngineState.starting, EngineState.ready, EngineState.draining, EngineState.stopping}
)


@dataclass(eq=False)
class EngineRuntime:
    profile: Profile
    log: EngineLog
    state: EngineState = EngineState.stopped
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    plan: LaunchPlan | None = None
    child: ChildProcess | None = None
    model: str | None = None
    context: int | None = None  # max_model_len the engine reported
    started_at: float | None = None
    switch_s: float | None = None  # the last switch to this engine, drain to ready
    ready_since: float | None = None  # monotonic
    healthy: bool | None = None
    last_error: str | None = None
    last_error_notice: Notice | None = None  # last_error's reason, as a code the UI translates
    failures: int = 0  # consecutive, for the restart backoff
    restart_at: float | None = None  # monotonic
    discover_after: float = 0.0  # monotonic; external engines' model discovery
    leases: set[Lease] = field(default_factory=set)  # requests in flight
    waiting: int = 0  # requests waiting for a start or a switch
    idle: asyncio.Event = field(default_factory=asyncio.Event)  # set while inflight == 0
    held: bool = False  # stopped by an administrator: never started on demand
    replicas: ReplicaSet | None = None  # external engines
    start_task: asyncio.Task[None] | None = None
    watch_task: asyncio.Task[None] | None = None
    restart_task: asyncio.Task[None] | None = None
    # The profile's new settings, edited while the engine ran: used at its next start.
    pending: Profile | None = None

    def __post_init__(self) -> None:
        self.idle.set()

    @property
    def spawned(self) -> bool:
        return self.profile.engine is not EngineKind.external

    def holds_gpus(self) -> bool:
        return self.spawned and (self.state in HOLDS_GPUS or self.child is not None)

    def shares_gpus(self, other: EngineRuntime) -> bool:
        return bool(set(self.profile.gpus) & set(other.profile.gpus))

    def lease(self, affinity: str | None, avoid: Avoid) -> Upstream:
        """A request's upstream on this (ready) engine, on a replica `ReplicaSet.pick` chose."""
        assert self.plan is not None
        replicas, leases = self.replicas, self.leases
        replica = replicas.pick(affinity, avoid) if replicas is not None else None
        url = replica.url if replica is not None else self.plan.base_urls[0]

        def release(failed: bool) -> None:
            leases.discard(lease)
            if not leases:
                self.idle.set()
            if replicas is not None and replica is not None:
                replicas.release(replica, failed=failed)

        lease = Lease(release)
        leases.add(lease)
        self.idle.clear()
        model = self.model or self.profile.name
        return Upstream(self.profile, url, model, lease, context=self.context)


class Probes:
    """The manager's own small HTTP client for health checks and model discovery."""

    def __init__(self) -> None:
        self._http: aiohttp.ClientSession | None = None

    def client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            timeout = aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_S)
            self._http = aiohttp.ClientSession(timeout=timeout, trust_env=False)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def healthy(self, url: str) -> bool:
        try:
            async with self.client().get(url, allow_redirects=False) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False

    async def reachable(self, base_url: str) -> bool:
        """An external replica answers HTTP at all (a 401 from a keyed server counts)."""
        try:
            url = f"{base_url}/models"
            async with self.client().get(url, allow_redirects=False) as response:
                return response.status < 500
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False

    async def served(self, base_url: str) -> ServedModel | None:
        """What the engine calls its model and, where it says (vLLM), its context length,
        from GET /models; None when it will not say."""
        try:
            url = f"{base_url}/models"
            async with self.client().get(url, allow_redirects=False) as response:
                body = await response.json(content_type=None)
            entry = body["data"][0]
            model, context = entry["id"], entry.get("max_model_len")
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError, LookupError, TypeError):
            return None
        if not isinstance(model, str) or not model:
            return None
        valid = isinstance(context, int) and not isinstance(context, bool) and context > 0
        return ServedModel(model, context if valid else None)


class ServedModel(NamedTuple):
    model: str
    context: int | None


def status_of(
    engine: EngineRuntime,
    *,
    active: bool,
    models_dir: Path,
    vllm_command: tuple[str, ...] | None = None,
    load: EngineLoad | None = None,
) -> EngineStatus:
    profile, plan, child = engine.profile, engine.plan, engine.child
    reason = unavailable_reason(profile, models_dir=models_dir, vllm_command=vllm_command)
    ready = engine.state is EngineState.ready
    failure = engine.last_error_notice
    uptime = time.time() - engine.started_at if ready and engine.started_at else None
    return EngineStatus(
        name=profile.name,
        engine=profile.engine,
        state=engine.state,
        aliases=tuple(profile.aliases),
        active=active,
        gpus=tuple(profile.gpus),
        pid=child.pid if child is not None else None,
        port=plan.port if plan is not None else None,
        base_url=plan.base_urls[0] if plan is not None else None,
        started_at=engine.started_at,
        uptime_s=round(uptime, 1) if uptime is not None else None,
        healthy=engine.healthy,
        progress=engine.log.progress.percent,
        phase=engine.log.progress.phase,
        phase_code=engine.log.progress.phase_code,
        inflight=len(engine.leases),
        waiting=engine.waiting,
        held=engine.held,
        last_error=engine.last_error,
        last_error_code=failure.code if failure else None,
        last_error_params=failure.params if failure else {},
        available=reason is None,
        reason=reason.message if reason else None,
        reason_code=reason.code if reason else None,
        reason_params=reason.params if reason else {},
        replicas=engine.replicas.statuses() if engine.replicas is not None else (),
        load=load,
        switch_s=engine.switch_s,
        restart_needed=engine.pending is not None and engine.state is not EngineState.stopped,
    )
