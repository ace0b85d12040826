"""The engine-control interface the gateway talks to, and the values that cross it.

Two implementations: `EngineManager` (in process, manager.py) and `RemoteEngineControl`
(remote.py, a client of `gpuchat supervisor`). Both are driven by the same tests.
Everything here is plain data that survives JSON (the HTTP supervisor sends it as is).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from enum import StrEnum
from typing import Final, Protocol

from pydantic import BaseModel, ConfigDict

from gpuchat.core.notices import Notice, NoticeCode, NoticeParams
from gpuchat.engines.gpu import GpuReport
from gpuchat.engines.load import EngineLoad
from gpuchat.engines.profiles import EngineKind, Profile, ProfilesFile

RETRY_UNAVAILABLE_S = 60
RETRY_STOPPING_S = 5


class EngineState(StrEnum):
    stopped = "stopped"
    starting = "starting"
    ready = "ready"
    draining = "draining"
    stopping = "stopping"
    failed = "failed"


class Lease:
    """One request's claim on an engine (and replica): released exactly once, cheaply.

    A switch waits for the leases of the engine it drains; the replica router counts them
    as outstanding requests. `release()` is a plain call, safe to repeat.
    """

    __slots__ = ("_on_release", "on_revoke")

    def __init__(self, on_release: Callable[[bool], None]) -> None:
        self._on_release: Callable[[bool], None] | None = on_release
        # Set by the holder: how to end its request at once when a drain's grace runs out
        # (the relay closes the upstream response, so its client gets an error event).
        self.on_revoke: Callable[[], None] | None = None

    def revoke(self) -> None:
        on_revoke, self.on_revoke = self.on_revoke, None
        if on_revoke is not None and self._on_release is not None:
            on_revoke()

    def release(self, *, failed: bool = False) -> None:
        """`failed`: the engine could not be reached (the replica router skips it a while)."""
        on_release, self._on_release = self._on_release, None
        self.on_revoke = None  # nothing left to end; and its closure holds the request
        if on_release is not None:
            on_release(failed)


class Upstream:
    """Where one request goes: the profile, the OpenAI base URL and the upstream model."""

    __slots__ = ("base_url", "context", "failover", "lease", "model", "profile")

    def __init__(
        self,
        profile: Profile,
        base_url: str,
        model: str,
        lease: Lease | None = None,
        *,
        context: int | None = None,
    ) -> None:
        self.profile = profile
        self.base_url = base_url  # e.g. "http://127.0.0.1:41234/v1", no trailing slash
        self.model = model  # the "model" to send upstream
        self.lease = lease
        # Tokens the engine holds per request (prompt + answer): what it reports
        # (vLLM's /v1/models `max_model_len`), else what the profile configures.
        self.context = context if context is not None else profile.context
        # Another healthy replica of the profile, for a request that failed on this one
        # before any answer came: a new Upstream with its own lease, or EngineUnavailable
        # when none is left untried. Set by the engine control where there are replicas.
        self.failover: Callable[[], Awaitable[Upstream]] | None = None

    def release(self, *, failed: bool = False) -> None:
        if self.lease is not None:
            self.lease.release(failed=failed)


class ReplicaStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str
    healthy: bool
    outstanding: int


class EngineStatus(BaseModel):
    """What the admin page and `/readyz` see of one profile's engine."""

    model_config = ConfigDict(frozen=True)

    name: str
    engine: EngineKind
    state: EngineState
    aliases: tuple[str, ...]
    active: bool = False  # the profile `default` names
    gpus: tuple[int, ...] = ()
    pid: int | None = None
    port: int | None = None
    base_url: str | None = None
    started_at: float | None = None  # wall clock (time.time()) of the current process's spawn
    uptime_s: float | None = None  # while ready
    healthy: bool | None = None  # the last health check (None: not running)
    progress: float | None = None  # 0-100 while starting, from the engine's log
    phase: str | None = None
    phase_code: NoticeCode | None = None  # core/notices.py: what the web UI translates
    inflight: int = 0  # leases held (streams and requests in flight)
    waiting: int = 0  # requests waiting for this engine to start or for a switch
    held: bool = False  # stopped by an administrator: not started on demand
    last_error: str | None = None  # the reason, then the engine log's last lines
    last_error_code: NoticeCode | None = None
    last_error_params: NoticeParams = {}
    available: bool = True
    reason: str | None = None  # why it is not available on this host
    reason_code: NoticeCode | None = None
    reason_params: NoticeParams = {}
    replicas: tuple[ReplicaStatus, ...] = ()
    load: EngineLoad | None = None  # the engine's own view (vLLM's /metrics), when it says
    switch_s: float | None = None  # how long the last switch to it took (drain + start)
    # Its profile was edited while it ran: it runs the old settings until restarted.
    restart_needed: bool = False


class UnknownModel(Exception):
    def __init__(self, alias: str) -> None:
        super().__init__(f"model '{alias}' does not exist")
        self.alias = alias


class Refusal(Exception):
    """A refusal of the engines: `message` is safe to show to clients (no paths); `notice`,
    when there is one, is the same as a code the web UI translates (core/notices.py)."""

    def __init__(self, reason: str | Notice) -> None:
        self.message = str(reason)
        self.notice = reason if isinstance(reason, Notice) else None
        super().__init__(self.message)


class EngineUnavailable(Refusal):
    """The engine cannot serve now: 503 with Retry-After."""

    def __init__(self, reason: str | Notice, retry_after: int = RETRY_STOPPING_S) -> None:
        super().__init__(reason)
        self.retry_after = max(1, retry_after)


SWITCH_IN_PROGRESS: Final = Notice("switch_in_progress", "another model switch is in progress")


class SwitchConflict(Refusal):
    """Another switch (activate or stop) is in progress: the caller gets 409."""

    def __init__(self, reason: str | Notice = SWITCH_IN_PROGRESS) -> None:
        super().__init__(reason)


class ControlRefused(Refusal):
    """The request is understood but cannot be done (stopping an external engine): 409."""


class EngineControl(Protocol):
    """What the gateway needs from a supervisor; see engines/design.md."""

    async def start(self, *, launch_default: bool = True, active: str | None = None) -> None:
        """`active`: the profile the admin last switched to (kept in the database), in
        place of the profiles file's default; an unknown name is ignored."""
        ...

    async def close(self) -> None: ...

    def profile_for(self, alias: str) -> Profile: ...

    async def replace_profiles(
        self, profiles: ProfilesFile, *, revision: int | None = None
    ) -> None:
        """Use this profile set from now on (the admin edited it). New profiles are usable
        at once; an edited one that runs keeps its old settings until it is restarted
        (activated again) or stopped; dropping the active or a running profile raises
        ControlRefused and changes nothing. `revision` (the database's, rising with every
        change): a supervisor that took a higher one ignores this set, which is older."""
        ...

    async def ensure_ready(self, alias: str) -> Upstream: ...

    async def acquire(
        self, alias: str, *, affinity: str | None = None, avoid: tuple[str, ...] = ()
    ) -> Upstream: ...

    async def activate(self, name: str, *, wait: bool = False) -> EngineStatus: ...

    async def stop(self, name: str, *, wait: bool = False) -> EngineStatus: ...

    def statuses(self) -> list[EngineStatus]: ...

    def is_ready(self, alias: str = "default") -> bool: ...

    async def gpus(self) -> GpuReport: ...

    async def read_log(self, name: str, tail: int) -> list[str]: ...

    def follow_log(self, name: str) -> AsyncIterator[str]: ...
