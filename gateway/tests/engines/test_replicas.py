"""External profiles with several replicas: least outstanding, affinity, skip and re-probe."""

from __future__ import annotations

import asyncio
import sys
from asyncio.subprocess import Process
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from gpuchat.engines import replicas as replicas_module
from gpuchat.engines.control import EngineControl
from gpuchat.engines.replicas import ReplicaSet
from tests.engines.conftest import FAKE_UPSTREAM
from tests.engines.test_manager import eventually
from tests.utils.gateway import free_port

ManagerFactory = Callable[..., EngineControl]


def test_least_outstanding_replica_is_picked() -> None:
    replicas = ReplicaSet(("http://a/v1", "http://b/v1", "http://c/v1"))

    picked = [replicas.pick(None).url for _ in range(3)]
    fourth = replicas.pick(None)

    assert sorted(picked) == ["http://a/v1", "http://b/v1", "http://c/v1"]
    assert fourth.outstanding == 2
    other = next(r for r in replicas.replicas if r is not fourth)
    replicas.release(other, failed=False)
    assert replicas.pick(None) is other  # the only one with nothing outstanding


def test_a_conversation_stays_on_its_replica_while_it_is_healthy() -> None:
    replicas = ReplicaSet(("http://a/v1", "http://b/v1"))
    first = replicas.pick("conversation-1")
    for _ in range(4):  # load the first replica: affinity still wins
        replicas.pick(None)

    assert replicas.pick("conversation-1") is first
    replicas.mark(first, healthy=False)
    moved = replicas.pick("conversation-1")
    assert moved is not first
    assert replicas.pick("conversation-1") is moved


def test_unhealthy_replicas_are_skipped_until_probed_healthy() -> None:
    replicas = ReplicaSet(("http://a/v1", "http://b/v1"))
    a, b = replicas.replicas
    replicas.release(replicas.pick(None), failed=True)  # could not connect
    failed = a if not a.healthy else b

    assert {replicas.pick(None).url for _ in range(4)} == {(b if failed is a else a).url}
    assert replicas.retry_after() >= 1
    replicas.mark(failed, healthy=True)
    assert failed.healthy


def test_every_replica_down_still_tries_one() -> None:
    replicas = ReplicaSet(("http://a/v1",))
    only = replicas.replicas[0]
    replicas.mark(only, healthy=False)

    assert replicas.pick(None) is only  # a fast 502 from the relay, not a hang


async def fake_upstream(port: int) -> Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(FAKE_UPSTREAM), "--port", str(port)
    )


@pytest.fixture
async def two_upstreams() -> AsyncIterator[list[tuple[str, Process]]]:
    servers = []
    for _ in range(2):
        port = free_port()
        servers.append((f"http://127.0.0.1:{port}/v1", await fake_upstream(port)))
    async with aiohttp.ClientSession() as http:
        for url, _ in servers:
            for _ in range(100):
                try:
                    async with http.get(f"{url}/models") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
    yield servers
    for _, process in servers:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_manager_skips_a_dead_replica_and_takes_it_back_when_it_answers(
    make_manager: ManagerFactory,
    two_upstreams: list[tuple[str, Process]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(replicas_module, "PROBE_UNHEALTHY_FIRST_S", 0.2)
    (url_a, process_a), (url_b, _) = two_upstreams
    profile: dict[str, Any] = {
        "name": "pool",
        "engine": "external",
        "urls": [url_a, url_b],
        "served_model_name": "m",
    }
    manager = make_manager(profile)
    await manager.start()
    process_a.kill()
    await process_a.wait()

    # A request that cannot connect tells the manager, which then skips that replica.
    for _ in range(2):
        upstream = await manager.acquire("pool")
        upstream.release(failed=upstream.base_url == url_a)
    served = set()
    for _ in range(4):
        upstream = await manager.acquire("pool")
        served.add(upstream.base_url)
        upstream.release()

    assert served == {url_b}
    [status] = manager.statuses()
    assert {r.url: r.healthy for r in status.replicas} == {url_a: False, url_b: True}

    port = int(url_a.rsplit(":", 1)[1].split("/")[0])
    restarted = await fake_upstream(port)
    try:
        await eventually(lambda: all(r.healthy for r in manager.statuses()[0].replicas), 15)
    finally:
        restarted.kill()
        await restarted.wait()
