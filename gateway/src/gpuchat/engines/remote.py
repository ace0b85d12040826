"""`RemoteEngineControl`: the `EngineControl` interface over HTTP, a client of
`gpuchat supervisor` (supervisor_app.py). See design.md, "gpuchat supervisor".

The interface's plain calls (`statuses`, `profile_for`, `is_ready`) read a snapshot: every
control answer carries the statuses, and a poll every `poll_s` refreshes them, renews this
process's leases and brings back the ones a drain revoked. `Lease.release()` stays a plain
call: it schedules the HTTP release; if that is lost, the supervisor's lease TTL ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Final

import aiohttp

from gpuchat.core.notices import Notice
from gpuchat.engines.control import (
    RETRY_STOPPING_S,
    ControlRefused,
    EngineState,
    EngineStatus,
    EngineUnavailable,
    Lease,
    UnknownModel,
    Upstream,
)
from gpuchat.engines.gpu import GpuReport
from gpuchat.engines.profiles import Profile, ProfilesFile
from gpuchat.engines.wire import CONTROL_PREFIX, ControlReply, UpstreamWire, raise_error

log = logging.getLogger(__name__)

POLL_S: Final = 1.0
CALL_TIMEOUT_S: Final = 10.0  # calls that do not wait for an engine
CONNECT_TIMEOUT_S: Final = 2.0
CONNECT_WAIT_S: Final = 30.0  # at start: `gpuchat run` starts the supervisor just before us
WAIT_MARGIN_S: Final = 30.0  # beyond a profile's drain + start, for calls that wait


class RemoteEngineControl:
    def __init__(
        self,
        url: str,
        secret: str | None,
        *,
        poll_s: float = POLL_S,
        connect_wait_s: float = CONNECT_WAIT_S,
    ) -> None:
        self._url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        self._poll_s, self._connect_wait_s = poll_s, connect_wait_s
        self._http: aiohttp.ClientSession | None = None
        self._profiles: ProfilesFile | None = None
        self._by_alias: dict[str, Profile] = {}
        self._statuses: list[EngineStatus] = []
        self._boot, self._seq = "", -1  # of the supervisor answer self._statuses comes from
        self._reachable: bool | None = None  # None: not tried yet
        self._leases: dict[str, Lease] = {}
        self._releases: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        self._wait_s = WAIT_MARGIN_S
        # What `start` asked for; the active profile is kept up to date from the statuses,
        # so a supervisor that restarted is asked for the model that was active.
        self._start_body: dict[str, Any] = {"launch_default": True, "active": None}
        self._restart_call: asyncio.Task[None] | None = None
        # The set the gateway keeps in its database: sent before each `start` (a restarted
        # supervisor has only its file) and whenever an administrator changes it.
        self._pushed: ProfilesFile | None = None
        self._pushed_revision: int | None = None  # the database's, with the set
        self._version = ""  # of the supervisor's profile set, from its answers

    # ---- public interface (control.EngineControl) --------------------------------------

    async def start(self, *, launch_default: bool = True, active: str | None = None) -> None:
        """Reach the supervisor (waiting a while for it to boot) and ask it to start."""
        deadline = time.monotonic() + self._connect_wait_s
        self._start_body = {"launch_default": launch_default, "active": active}
        while True:
            try:
                await self._push()
                await self._call("POST", "/start", self._start_body)
                return
            except EngineUnavailable:
                if time.monotonic() >= deadline:
                    log.error("the engine supervisor at %s is not reachable", self._url)
                    return  # the poll keeps trying; requests get 503 meanwhile
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        if self._restart_call is not None:
            self._restart_call.cancel()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._releases:
            await asyncio.wait(self._releases, timeout=CALL_TIMEOUT_S)
        if self._http is not None:
            await self._http.close()

    def profile_for(self, alias: str) -> Profile:
        if alias == "default":
            active = next((s.name for s in self._statuses if s.active), None)
            alias = active or alias
        try:
            return self._by_alias[alias]
        except KeyError:
            raise UnknownModel(alias) from None

    async def replace_profiles(
        self, profiles: ProfilesFile, *, revision: int | None = None
    ) -> None:
        """Before `start`: kept, and sent by it. After: sent now (a refusal raises). The
        supervisor ignores a set whose `revision` is below the one it holds (another
        gateway process pushed a newer set first); this process then reads that one."""
        self._pushed, self._pushed_revision = profiles, revision
        if self._boot:
            await self._push()

    async def _push(self) -> None:
        if self._pushed is None:
            return
        path = "/profiles"
        if self._pushed_revision is not None:
            path += f"?revision={self._pushed_revision}"
        reply = await self._call("PUT", path, self._pushed.model_dump(mode="json"))
        if reply.applied is False:
            log.info(
                "the supervisor holds a newer profile set (revision %s, ours %s)",
                reply.revision,
                self._pushed_revision,
            )
            self._profiles = None  # read the set it holds on the next call
        else:
            self._learn(self._pushed)  # usable at once, before the next call reads it back

    async def ensure_ready(self, alias: str) -> Upstream:
        reply = await self._call("POST", "/ensure-ready", {"alias": alias}, wait=True)
        assert reply.upstream is not None
        return self._upstream(reply.upstream, None)

    async def acquire(
        self, alias: str, *, affinity: str | None = None, avoid: tuple[str, ...] = ()
    ) -> Upstream:
        body = {"alias": alias, "affinity": affinity, "avoid": list(avoid)}
        reply = await self._call("POST", "/acquire", body, wait=True)
        wire = reply.upstream
        assert wire is not None and wire.lease is not None
        lease_id = wire.lease
        lease = Lease(lambda failed: self._release(lease_id, failed))
        self._leases[lease_id] = lease
        upstream = self._upstream(wire, lease)
        if len(upstream.profile.urls) > 1:  # replicas: the supervisor picks another
            tried, name = (*avoid, upstream.base_url), upstream.profile.name
            upstream.failover = lambda: self.acquire(name, affinity=affinity, avoid=tried)
        return upstream

    async def activate(self, name: str, *, wait: bool = False) -> EngineStatus:
        path = f"/profiles/{name}/activate"
        reply = await self._call("POST", path, {"wait": wait}, wait=wait)
        assert reply.status is not None
        return reply.status

    async def stop(self, name: str, *, wait: bool = False) -> EngineStatus:
        reply = await self._call("POST", f"/profiles/{name}/stop", {"wait": wait}, wait=wait)
        assert reply.status is not None
        return reply.status

    def statuses(self) -> list[EngineStatus]:
        return list(self._statuses)

    def is_ready(self, alias: str = "default") -> bool:
        try:
            name = self.profile_for(alias).name
        except UnknownModel:
            return False
        state = next((s.state for s in self._statuses if s.name == name), None)
        return self._reachable is True and state is EngineState.ready

    async def gpus(self) -> GpuReport:
        return GpuReport.model_validate(await self._get("/gpus"))

    async def read_log(self, name: str, tail: int) -> list[str]:
        body = await self._get(f"/engines/{name}/logs?tail={int(tail)}")
        return [str(line) for line in body["lines"]]

    def follow_log(self, name: str) -> AsyncIterator[str]:
        if self._profiles is not None and self._profiles.get(name) is None:
            raise UnknownModel(name)
        return self._follow(name)

    # ---- HTTP ----------------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None:
            timeout = aiohttp.ClientTimeout(total=CALL_TIMEOUT_S, sock_connect=CONNECT_TIMEOUT_S)
            self._http = aiohttp.ClientSession(
                timeout=timeout, headers=self._headers, trust_env=False
            )
        return self._http

    async def _request(self, method: str, path: str, body: Any, total: float | None) -> Any:
        """The JSON answer of a control call; control errors are raised as themselves."""
        timeout = aiohttp.ClientTimeout(total=total, sock_connect=CONNECT_TIMEOUT_S)
        url = f"{self._url}{CONTROL_PREFIX}{path}"
        try:
            async with self._client().request(method, url, json=body, timeout=timeout) as r:
                answer = await r.json(content_type=None)
                status = r.status
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            if self._reachable is not False:  # once per outage, not once per poll
                log.warning("engine supervisor call %s failed: %r", path, exc)
            self._reachable = False
            raise EngineUnavailable(
                Notice("supervisor_unreachable", "the engine supervisor is not reachable"),
                RETRY_STOPPING_S,
            ) from exc
        if self._reachable is False:
            log.info("engine supervisor reachable again at %s", self._url)
        self._reachable = True
        if status == 401:
            log.error("the engine supervisor refused GPUCHAT_SUPERVISOR_SECRET")
        if status >= 400:
            if isinstance(answer, dict) and "statuses" in answer:
                self._apply(ControlReply.model_validate(answer))
            raise_error(status, answer)
        return answer

    async def _get(self, path: str) -> Any:
        await self._connect()
        return await self._request("GET", path, None, CALL_TIMEOUT_S)

    async def _call(self, method: str, path: str, body: Any, *, wait: bool = False) -> ControlReply:
        await self._connect()
        total = self._wait_s if wait else CALL_TIMEOUT_S
        reply = ControlReply.model_validate(await self._request(method, path, body, total))
        self._apply(reply)
        return reply

    def _apply(self, reply: ControlReply) -> None:
        if reply.boot != self._boot:
            if self._boot:
                log.warning("the engine supervisor restarted: its leases ended")
                self._profiles = None  # learn them again: the file may have changed
                body = dict(self._start_body)  # before its answer's default replaces it
                self._restart_call = asyncio.get_running_loop().create_task(self._restart(body))
            self._boot, self._seq = reply.boot, -1
        if reply.profiles != self._version:
            self._version = reply.profiles
            self._profiles = None  # changed (by another gateway process): read it again
        if reply.seq <= self._seq:
            return  # a poll answered before a later call's answer arrived
        self._seq = reply.seq
        self._statuses = [
            s.model_copy(update={"base_url": self._absolute(s.base_url)}) for s in reply.statuses
        ]
        active = next((s.name for s in self._statuses if s.active), None)
        if active is not None:
            self._start_body["active"] = active

    async def _restart(self, body: dict[str, Any]) -> None:
        """A supervisor that restarted went back to its file's default: ask it for the
        profile that was active."""
        with contextlib.suppress(EngineUnavailable, ControlRefused):
            await self._push()
            await self._call("POST", "/start", body)

    def _absolute(self, base_url: str | None) -> str | None:
        """Proxy paths are the supervisor's: the gateway reaches them at its URL."""
        if base_url is not None and base_url.startswith("/"):
            return f"{self._url}{base_url}"
        return base_url

    async def _connect(self) -> None:
        """Learn the profiles once, and again when the supervisor's answers say they changed
        (it restarted, or a gateway process pushed a new set)."""
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll())
        if self._profiles is None:
            answer = await self._request("GET", "/profiles", None, CALL_TIMEOUT_S)
            self._learn(ProfilesFile.model_validate(answer))

    def _learn(self, profiles: ProfilesFile) -> None:
        self._by_alias = {n: p for p in profiles.profiles for n in p.names if n != "default"}
        self._wait_s = WAIT_MARGIN_S + max(
            p.timeouts.start + p.timeouts.drain for p in profiles.profiles
        )
        self._profiles = profiles

    def _upstream(self, wire: UpstreamWire, lease: Lease | None) -> Upstream:
        base_url = self._absolute(wire.base_url) or wire.base_url
        profile = self._by_alias[wire.profile]
        return Upstream(profile, base_url, wire.model, lease, context=wire.context)

    def _release(self, lease_id: str, failed: bool) -> None:
        # Called from the relay's synchronous finish(): schedule, never wait.
        self._leases.pop(lease_id, None)
        try:
            task = asyncio.get_running_loop().create_task(self._send_release(lease_id, failed))
        except RuntimeError:
            return  # no loop (interpreter exit): the supervisor's lease TTL ends it
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _send_release(self, lease_id: str, failed: bool) -> None:
        with contextlib.suppress(EngineUnavailable):  # logged; the TTL ends the lease
            await self._request("POST", f"/leases/{lease_id}/release", {"failed": failed}, 5)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                reply = await self._call("POST", "/poll", {"leases": list(self._leases)})
            except EngineUnavailable:
                continue
            for lease_id in reply.revoked:
                lease = self._leases.get(lease_id)
                if lease is not None:
                    lease.revoke()  # the relay ends the request and releases the lease

    async def _follow(self, name: str) -> AsyncIterator[str]:
        await self._connect()
        url = f"{self._url}{CONTROL_PREFIX}/engines/{name}/logs/follow"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S)
        async with self._client().get(url, timeout=timeout) as response:
            if response.status >= 400:
                raise_error(response.status, await response.json(content_type=None))
            async for raw in response.content:
                yield raw.decode("utf-8", "replace").rstrip("\r\n")
