"""`gpuchat supervisor` beyond the shared behaviour tests (test_manager.py and
test_switching.py run against it too): the secret, lease expiry, the proxy, releases."""

from __future__ import annotations

import asyncio
import stat
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr
from yarl import URL

from gpuchat.core.config import Settings
from gpuchat.engines.control import EngineState, EngineStatus, EngineUnavailable
from gpuchat.engines.manager import EngineManager
from gpuchat.engines.profiles import ProfilesFile
from gpuchat.engines.remote import RemoteEngineControl
from gpuchat.engines.supervisor_app import LOOPBACK_HOSTS, create_supervisor_app
from tests.engines.conftest import SUPERVISOR_SECRET
from tests.engines.test_manager import eventually
from tests.utils.gateway import free_port
from tests.utils.supervisor import serve_supervisor

FakeProfile = Callable[..., dict[str, Any]]
ManagerFactory = Callable[..., EngineManager]
AUTH = {"Authorization": f"Bearer {SUPERVISOR_SECRET}"}


@asynccontextmanager
async def serving(
    manager: EngineManager,
    profiles: list[dict[str, Any]],
    *,
    lease_ttl_s: float = 30.0,
    hosts: frozenset[str] | None = None,
) -> AsyncIterator[str]:
    file = ProfilesFile.model_validate({"profiles": profiles})
    async with serve_supervisor(
        manager, file, secret=SUPERVISOR_SECRET, lease_ttl_s=lease_ttl_s, allowed_hosts=hosts
    ) as url:
        yield url


def inflight(manager: EngineManager, name: str) -> int:
    return next(s.inflight for s in manager.statuses() if s.name == name)


async def test_control_routes_refuse_a_missing_or_wrong_secret_without_side_effects(
    make_manager: ManagerFactory, fake_profile: FakeProfile
) -> None:
    profile = fake_profile("tool")
    manager = make_manager(profile)
    wrong = [{}, {"Authorization": "Bearer not-the-secret"}, {"Authorization": SUPERVISOR_SECRET}]
    async with serving(manager, [profile]) as url, aiohttp.ClientSession() as http:
        for headers in wrong:
            async with http.post(
                f"{url}/control/acquire", json={"alias": "tool"}, headers=headers
            ) as r:
                assert r.status == 401
            async with http.get(f"{url}/control/profiles", headers=headers) as r:
                assert r.status == 401
        assert manager.statuses()[0].state is EngineState.stopped
        async with http.get(f"{url}/control/profiles", headers=AUTH) as r:
            assert r.status == 200
        async with http.get(f"{url}/healthz") as r:  # the container's health check
            assert r.status == 200
        async with http.get(f"{url}/proxy/guessed-token/v1/models") as r:
            assert r.status == 404

        client = RemoteEngineControl(url, "not-the-secret", connect_wait_s=0)
        try:
            with pytest.raises(EngineUnavailable):
                await client.acquire("tool")
        finally:
            await client.close()
    assert manager.statuses()[0].state is EngineState.stopped


async def test_leases_of_a_gateway_that_stops_polling_expire(
    make_manager: ManagerFactory, fake_profile: FakeProfile
) -> None:
    profile = fake_profile("tool")
    manager = make_manager(profile)
    async with (
        serving(manager, [profile], lease_ttl_s=0.6) as url,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        async with http.post(f"{url}/control/acquire", json={"alias": "tool"}) as r:
            lease = (await r.json())["upstream"]["lease"]
        for _ in range(4):  # polling renews it, well past its TTL
            await asyncio.sleep(0.3)
            async with http.post(f"{url}/control/poll", json={"leases": [lease]}) as r:
                assert (await r.json())["revoked"] == []
        assert inflight(manager, "tool") == 1

        await eventually(lambda: inflight(manager, "tool") == 0, within=3)  # no more polls

        async with http.post(f"{url}/control/poll", json={"leases": [lease]}) as r:
            assert (await r.json())["revoked"] == [lease]  # the gateway learns it is gone


async def test_a_revoked_lease_cuts_its_proxied_stream(
    make_manager: ManagerFactory, upstream_profile: FakeProfile
) -> None:
    profiles = [upstream_profile("old", timeouts={"drain": 0.3}), upstream_profile("new")]
    manager = make_manager(*profiles, default="old")
    prompt = {"role": "user", "content": "!tokens 100 !gap 0.1"}
    body = {"model": "old", "stream": True, "messages": [prompt]}
    async with serving(manager, profiles) as url, aiohttp.ClientSession(headers=AUTH) as http:
        async with http.post(f"{url}/control/acquire", json={"alias": "old"}) as r:
            upstream = (await r.json())["upstream"]
        frames: list[bytes] = []

        async def read() -> None:
            async with aiohttp.ClientSession() as plain:  # no secret: the path is the key
                chat = f"{url}{upstream['base_url']}/chat/completions"
                async with plain.post(chat, json=body) as response:
                    assert response.status == 200
                    async for line in response.content:
                        frames.append(line.strip())

        reading = asyncio.create_task(read())
        await eventually(lambda: len(frames) > 2)
        await manager.activate("new", wait=True)

        with pytest.raises(aiohttp.ClientPayloadError):
            await reading
        assert b"data: [DONE]" not in frames  # cut, never a clean end
        async with http.post(f"{url}/control/poll", json={"leases": [upstream["lease"]]}) as r:
            assert (await r.json())["revoked"] == [upstream["lease"]]


async def test_release_from_a_plain_call_reaches_the_supervisor(
    make_manager: ManagerFactory, fake_profile: FakeProfile
) -> None:
    profile = fake_profile("tool")
    manager = make_manager(profile)
    async with serving(manager, [profile]) as url:
        client = RemoteEngineControl(url, SUPERVISOR_SECRET, poll_s=0.05)
        try:
            upstream = await client.acquire("tool")
            assert inflight(manager, "tool") == 1

            upstream.release()  # what the relay's synchronous finish() does
            upstream.release()  # twice is harmless

            await eventually(lambda: inflight(manager, "tool") == 0, within=3)
            await eventually(lambda: client.statuses()[0].inflight == 0, within=3)
        finally:
            await client.close()


async def test_closing_a_gateway_leaves_the_supervisors_engines_running(
    make_manager: ManagerFactory, fake_profile: FakeProfile
) -> None:
    profile = fake_profile("tool")
    manager = make_manager(profile)
    async with serving(manager, [profile]) as url:
        client = RemoteEngineControl(url, SUPERVISOR_SECRET)
        await client.ensure_ready("tool")
        assert client.is_ready("tool")

        await client.close()

        assert manager.is_ready("tool")
        other = RemoteEngineControl(url, SUPERVISOR_SECRET)  # the next worker, say
        try:
            await other.start(launch_default=False)
            assert other.is_ready("tool")
            assert other.statuses()[0].pid == manager.statuses()[0].pid
        finally:
            await other.close()


async def test_an_unreachable_supervisor_is_unavailable_not_an_error(
    unused_tcp_port: int,
) -> None:
    client = RemoteEngineControl(f"http://127.0.0.1:{unused_tcp_port}", None, connect_wait_s=0)
    try:
        await client.start()  # logs, and lets the gateway serve everything else
        assert not client.is_ready()
        with pytest.raises(EngineUnavailable, match="supervisor is not reachable"):
            await client.acquire("default")
    finally:
        await client.close()


def test_the_control_api_never_runs_without_a_secret(
    tmp_path: Path, make_manager: ManagerFactory, fake_profile: FakeProfile
) -> None:
    """No secret configured: one is generated (0600) and shared through the data dir by
    the supervisor and a gateway on the same host."""
    profile = fake_profile("tool")
    file = ProfilesFile.model_validate({"profiles": [profile]})
    with pytest.raises(ValueError, match="secret"):
        create_supervisor_app(make_manager(profile), file, secret="")
    generated = Settings(data_dir=tmp_path).supervisor_control_secret
    assert len(generated) >= 32
    assert Settings(data_dir=tmp_path).supervisor_control_secret == generated
    assert stat.S_IMODE((tmp_path / "supervisor_secret").stat().st_mode) == 0o600
    configured = Settings(data_dir=tmp_path, supervisor_secret=SecretStr("c" * 40))
    assert configured.supervisor_control_secret == "c" * 40


async def test_a_browser_page_cannot_drive_the_supervisor(
    make_manager: ManagerFactory, fake_profile: FakeProfile
) -> None:
    """Not with a text/plain or form body (no CORS preflight needed), not through a
    DNS-rebinding name pointing at loopback."""
    profile = fake_profile("tool")
    manager = make_manager(profile)
    async with (
        serving(manager, [profile], hosts=LOOPBACK_HOSTS) as url,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        plain = {"Content-Type": "text/plain"}
        async with http.post(
            f"{url}/control/acquire", data='{"alias": "tool"}', headers=plain
        ) as r:
            assert r.status == 415
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        async with http.post(f"{url}/control/start", data="launch_default=1", headers=form) as r:
            assert r.status == 415
        rebound = {"Host": f"attacker.example:{URL(url).port}"}
        async with http.get(f"{url}/control/statuses", headers=rebound) as r:
            assert r.status == 421
        async with http.get(f"{url}/healthz", headers={"Host": f"localhost:{URL(url).port}"}) as r:
            assert r.status == 200
        assert manager.statuses()[0].state is EngineState.stopped


async def test_a_proxy_path_cannot_leave_the_engines_v1(
    make_manager: ManagerFactory, upstream_profile: FakeProfile
) -> None:
    profile = upstream_profile("old")
    manager = make_manager(profile, default="old")
    async with serving(manager, [profile]) as url, aiohttp.ClientSession(headers=AUTH) as http:
        async with http.post(f"{url}/control/acquire", json={"alias": "old"}) as r:
            base = (await r.json())["upstream"]["base_url"]
        async with aiohttp.ClientSession() as plain:
            async with plain.get(URL(f"{url}{base}/models", encoded=True)) as r:
                assert r.status == 200  # the way in that is meant
            for escape in ("/../health", "/%2e%2e/health", "/./models", "//models", "/..%2fhealth"):
                async with plain.get(URL(f"{url}{base}{escape}", encoded=True)) as r:
                    assert r.status == 404, escape
        async with http.get(f"{url}/control/statuses") as r:
            statuses = await r.text()
        assert "/proxy/" not in statuses  # the admin's JSON never holds a proxy token


async def test_the_proxy_reaches_the_engines_tokenize_beside_v1(
    make_manager: ManagerFactory, upstream_profile: FakeProfile
) -> None:
    """The web chat fits a long conversation by the engine's own count (vLLM's /tokenize,
    at the engine's root): through the supervisor too, and nothing else outside /v1."""
    profile = upstream_profile("old")
    manager = make_manager(profile, default="old")
    async with serving(manager, [profile]) as url, aiohttp.ClientSession(headers=AUTH) as http:
        async with http.post(f"{url}/control/acquire", json={"alias": "old"}) as r:
            root = (await r.json())["upstream"]["base_url"].removesuffix("/v1")
        body = {"messages": [{"role": "user", "content": "three words here"}]}
        async with aiohttp.ClientSession() as plain:
            async with plain.post(f"{url}{root}/tokenize", json=body) as r:
                assert (r.status, (await r.json())["count"]) == (200, 3)
            for other in ("/tokenize/../health", "/health", "/metrics"):
                async with plain.get(URL(f"{url}{root}{other}", encoded=True)) as r:
                    assert r.status == 404, other


async def test_a_restarted_supervisor_is_asked_for_the_profile_that_was_active(
    make_manager: ManagerFactory, upstream_profile: FakeProfile
) -> None:
    profiles = [upstream_profile("first"), upstream_profile("second")]
    file = ProfilesFile.model_validate({"default": "first", "profiles": profiles})
    port = free_port()

    async def serve() -> web.AppRunner:
        manager = make_manager(*profiles, default="first")
        app = create_supervisor_app(manager, file, secret=SUPERVISOR_SECRET)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await manager.start(launch_default=True)  # as `gpuchat supervisor` does at boot
        return runner

    runner = await serve()
    client = RemoteEngineControl(f"http://127.0.0.1:{port}", SUPERVISOR_SECRET, poll_s=0.1)
    try:
        await client.start()
        before = await client.activate("second", wait=True)
        await runner.cleanup()  # the supervisor goes away
        runner = await serve()  # and comes back, starting its file's default

        def second() -> EngineStatus:
            return next(s for s in client.statuses() if s.name == "second")

        deadline = time.monotonic() + 30
        while not (second().state is EngineState.ready and second().pid != before.pid):
            assert time.monotonic() < deadline, client.statuses()
            await asyncio.sleep(0.1)
        assert client.profile_for("default").name == "second"
        first = next(s for s in client.statuses() if s.name == "first")
        assert first.state in (EngineState.draining, EngineState.stopped)
    finally:
        await client.close()
        await runner.cleanup()
