"""The supervisor's bookkeeping around an in-process `EngineControl`: remote leases and
the proxy routes the gateway reaches engines by (see design.md, "gpuchat supervisor").

No HTTP here (supervisor_app.py serves it). A lease taken over HTTP gets a random id;
the gateway renews its leases by polling and releases them with a call; a lease not
renewed within `lease_ttl_s` (a gateway that crashed or lost the network) is released
here. Engines bind loopback, so the gateway reaches a spawned engine through
`/proxy/<token>/v1`, where the token is a lease id (or, for `ensure_ready`, a token of
that engine's current process): unguessable, and dead once the lease or process is.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Final

import aiohttp

from gpuchat.engines.control import EngineControl, EngineStatus, Upstream
from gpuchat.engines.profiles import EngineKind, ProfilesFile
from gpuchat.engines.wire import PROXY_PREFIX, UpstreamWire

log = logging.getLogger(__name__)

LEASE_TTL_S: Final = 30.0  # the gateway polls every second; a crashed one's leases end


@dataclass(eq=False)
class HeldLease:
    upstream: Upstream
    expires_at: float  # monotonic
    revoked: bool = False
    # Proxied responses under this lease: closed when a drain's grace runs out.
    responses: set[aiohttp.ClientResponse] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class ProxyTarget:
    base_url: str  # the engine's own base URL (loopback)
    lease: HeldLease | None


class Supervisor:
    def __init__(self, control: EngineControl, *, lease_ttl_s: float = LEASE_TTL_S) -> None:
        self.control = control
        self.lease_ttl_s = lease_ttl_s
        self._leases: dict[str, HeldLease] = {}
        self._engine_routes: dict[str, tuple[str, str]] = {}  # profile -> (token, base url)
        self._expiry: asyncio.Task[None] | None = None
        self.boot = secrets.token_hex(8)
        # The profile set GET /control/profiles answers, and its version, sent in every
        # answer; the revision of the last set a gateway pushed (None: still the file's).
        self.profiles: ProfilesFile | None = None
        self.profiles_version = ""
        self.profiles_revision: int | None = None
        self._replacing = asyncio.Lock()
        self._seq = 0

    def start(self) -> None:
        if self._expiry is None:
            self._expiry = asyncio.create_task(self._expire_leases())

    async def close(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry

    def take_profiles(self, profiles: ProfilesFile, revision: int | None = None) -> None:
        self.profiles, self.profiles_revision = profiles, revision
        self.profiles_version = hashlib.sha256(profiles.model_dump_json().encode()).hexdigest()[:16]

    async def replace_profiles(self, profiles: ProfilesFile, revision: int | None) -> bool:
        """A gateway's set replaces this one, unless this one's revision is higher: several
        gateway processes push, and their pushes may arrive out of order. False: ignored,
        it is older. A push without a revision (an older gateway) is always taken."""
        async with self._replacing:  # the check and the change as one step
            held = self.profiles_revision
            if revision is not None and held is not None and revision < held:
                log.info("profile set of revision %d ignored: %d is newer", revision, held)
                return False
            await self.control.replace_profiles(profiles, revision=revision)
            self.take_profiles(profiles, held if revision is None else revision)
            return True

    def snapshot(self) -> tuple[int, list[EngineStatus]]:
        """The manager's statuses, and the answer's sequence number. A spawned engine's
        base URL is left out: its proxy path holds a token that lets anyone reach the
        engine, and statuses end up in the admin's JSON (ensure_ready and acquire give
        the path to the gateway alone)."""
        self._seq += 1
        result = []
        for status in self.control.statuses():
            if status.engine is not EngineKind.external:
                self._engine_path(status.name, status.base_url)  # the route follows the engine
                status = status.model_copy(update={"base_url": None})
            result.append(status)
        return self._seq, result

    async def ensure_ready(self, alias: str) -> UpstreamWire:
        upstream = await self.control.ensure_ready(alias)
        base_url = upstream.base_url
        if upstream.profile.engine is not EngineKind.external:
            base_url = self._engine_path(upstream.profile.name, base_url) or base_url
        return UpstreamWire(
            profile=upstream.profile.name,
            base_url=base_url,
            model=upstream.model,
            context=upstream.context,
        )

    async def acquire(
        self, alias: str, affinity: str | None, avoid: tuple[str, ...] = ()
    ) -> UpstreamWire:
        upstream = await self.control.acquire(alias, affinity=affinity, avoid=avoid)
        assert upstream.lease is not None
        lease_id = secrets.token_urlsafe(24)
        self._leases[lease_id] = HeldLease(upstream, time.monotonic() + self.lease_ttl_s)
        upstream.lease.on_revoke = lambda: self._revoke(lease_id)
        base_url = upstream.base_url
        if upstream.profile.engine is not EngineKind.external:
            base_url = f"{PROXY_PREFIX}/{lease_id}/v1"
        return UpstreamWire(
            profile=upstream.profile.name,
            base_url=base_url,
            model=upstream.model,
            lease=lease_id,
            context=upstream.context,
        )

    def release(self, lease_id: str, *, failed: bool) -> None:
        held = self._leases.pop(lease_id, None)
        if held is not None:
            held.upstream.release(failed=failed)

    def renew(self, lease_ids: list[str]) -> list[str]:
        """Extend the given leases; returns those revoked or gone (expired, unknown)."""
        expires_at = time.monotonic() + self.lease_ttl_s
        ended = []
        for lease_id in lease_ids:
            held = self._leases.get(lease_id)
            if held is None or held.revoked:
                ended.append(lease_id)
            else:
                held.expires_at = expires_at
        return ended

    def target(self, token: str) -> ProxyTarget | None:
        held = self._leases.get(token)
        if held is not None:
            return None if held.revoked else ProxyTarget(held.upstream.base_url, held)
        for route_token, base_url in self._engine_routes.values():
            if secrets.compare_digest(route_token, token):
                return ProxyTarget(base_url, None)
        return None

    def _engine_path(self, name: str, base_url: str | None) -> str | None:
        """A token per engine process: a restarted engine (new port) gets a new one."""
        if base_url is None:
            self._engine_routes.pop(name, None)
            return None
        route = self._engine_routes.get(name)
        if route is None or route[1] != base_url:
            route = (secrets.token_urlsafe(24), base_url)
            self._engine_routes[name] = route
        return f"{PROXY_PREFIX}/{route[0]}/v1"

    def _revoke(self, lease_id: str) -> None:
        # The drain's grace is over: cut the proxied streams at once (the engine stops
        # next, and may finish them cleanly on SIGTERM); the gateway learns it at its next
        # poll, and its relay reports the switch to the client.
        held = self._leases.get(lease_id)
        if held is None:
            return
        held.revoked = True
        for response in list(held.responses):
            response.close()

    async def _expire_leases(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.lease_ttl_s / 4))
            now = time.monotonic()
            for lease_id, held in list(self._leases.items()):
                if held.expires_at < now:
                    log.warning("lease on %s expired: released", held.upstream.profile.name)
                    self.release(lease_id, failed=False)
