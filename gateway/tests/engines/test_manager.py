"""The engine control against fake_engine.py run as a `command` profile: each test runs
against the in-process EngineManager and against `gpuchat supervisor` over HTTP
(the `make_control` fixture)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gpuchat.engines import launchers
from gpuchat.engines.control import EngineControl, EngineState, EngineUnavailable, UnknownModel
from gpuchat.engines.manager import EngineManager

# The fixtures' types (conftest.py)
FakeProfile = Callable[..., dict[str, Any]]
ManagerFactory = Callable[..., EngineManager]
ControlFactory = Callable[..., EngineControl]
Alive = Callable[[int], bool]


def starts_logged(manager: EngineControl, tmp_path: Path, name: str) -> int:
    log = tmp_path / "logs" / f"{name}.log"
    return log.read_text().count("] starting: ") if log.exists() else 0


async def eventually(check: Callable[[], bool | Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met within {within}s")


async def test_ensure_ready_starts_an_engine_once_for_concurrent_callers(
    make_control: ControlFactory, fake_profile: FakeProfile, tmp_path: Path
) -> None:
    manager = make_control(fake_profile("tool", aliases=["tool-model"]))

    upstreams = await asyncio.gather(*(manager.ensure_ready("tool-model") for _ in range(5)))

    assert len({u.base_url for u in upstreams}) == 1
    upstream = upstreams[0]
    assert upstream.base_url.startswith("http://127.0.0.1:")
    assert upstream.base_url.endswith("/v1")
    assert upstream.model == "fake-engine-model"  # what the engine reports at /v1/models
    assert starts_logged(manager, tmp_path, "tool") == 1
    async with aiohttp.ClientSession() as http, http.get(f"{upstream.base_url}/models") as r:
        assert r.status == 200
    [status] = manager.statuses()
    assert status.state is EngineState.ready
    assert status.pid is not None
    assert status.port is not None
    if "/proxy/" in upstream.base_url:  # through a supervisor: the path holds a token
        assert status.base_url is None  # statuses reach the admin's JSON
    else:
        assert status.base_url == upstream.base_url
    assert manager.is_ready("tool-model")


async def test_start_begins_the_default_engine_without_waiting(
    make_control: ControlFactory, fake_profile: FakeProfile
) -> None:
    manager = make_control(
        fake_profile("other"), fake_profile("main", aliases=["default"]), default="main"
    )

    await manager.start()

    states = {s.name: s.state for s in manager.statuses()}
    assert states == {"other": EngineState.stopped, "main": EngineState.starting}
    assert not manager.is_ready()
    upstream = await manager.ensure_ready("default")
    assert upstream.profile.name == "main"
    assert manager.is_ready("default")
    assert not manager.is_ready("other")


async def test_served_model_name_is_sent_upstream(
    make_control: ControlFactory, fake_profile: FakeProfile
) -> None:
    manager = make_control(fake_profile("tool", served_model_name="my-model"))

    upstream = await manager.ensure_ready("tool")

    assert upstream.model == "my-model"


async def test_unknown_alias_raises_unknown_model(
    make_control: ControlFactory, fake_profile: FakeProfile
) -> None:
    manager = make_control(fake_profile("tool"))

    with pytest.raises(UnknownModel) as caught:
        await manager.ensure_ready("gpt-4")

    assert caught.value.alias == "gpt-4"
    assert not manager.is_ready("gpt-4")


async def test_engine_exiting_at_once_is_failed_then_restarted(
    make_control: ControlFactory, fake_profile: FakeProfile, tmp_path: Path
) -> None:
    manager = make_control(fake_profile("crashy", "exit"))

    with pytest.raises(EngineUnavailable) as caught:
        await manager.ensure_ready("crashy")

    assert caught.value.retry_after >= 1
    [status] = manager.statuses()
    assert status.state is EngineState.failed
    assert status.last_error is not None
    assert "code 3" in status.last_error
    assert "fatal: cannot load model weights" in status.last_error
    # Restarted on its own after the 1 s backoff, and failed again.
    await eventually(lambda: starts_logged(manager, tmp_path, "crashy") >= 2)


async def test_engine_never_healthy_fails_after_start_timeout_and_is_killed(
    make_control: ControlFactory, fake_profile: FakeProfile, alive: Alive
) -> None:
    manager = make_control(fake_profile("stuck", "unhealthy", start=1.5))
    await manager.start(launch_default=True)
    await eventually(lambda: manager.statuses()[0].pid is not None)
    pid = manager.statuses()[0].pid
    assert pid is not None

    started = time.monotonic()
    with pytest.raises(EngineUnavailable):
        await manager.ensure_ready("stuck")

    assert time.monotonic() - started < 10
    [status] = manager.statuses()
    assert status.state is EngineState.failed
    assert status.last_error is not None
    assert "did not become healthy within 1.5s" in status.last_error
    assert "loading model, please wait" in status.last_error  # the log tail
    assert not alive(pid)


async def test_engine_crashing_after_ready_is_restarted(
    make_control: ControlFactory, fake_profile: FakeProfile
) -> None:
    manager = make_control(fake_profile("tool"))
    await manager.ensure_ready("tool")
    first_pid = manager.statuses()[0].pid
    assert first_pid is not None

    os.kill(first_pid, signal.SIGKILL)

    await eventually(lambda: manager.statuses()[0].state is EngineState.failed, within=5)
    assert "exited unexpectedly" in (manager.statuses()[0].last_error or "")
    await eventually(lambda: manager.is_ready("tool") and manager.statuses()[0].pid != first_pid)
    upstream = await manager.ensure_ready("tool")
    async with aiohttp.ClientSession() as http, http.get(f"{upstream.base_url}/models") as r:
        assert r.status == 200


async def test_close_stops_every_child_and_its_children(
    make_manager: ManagerFactory, fake_profile: FakeProfile, tmp_path: Path, alive: Alive
) -> None:
    # In process only: a gateway closing its RemoteEngineControl leaves the supervisor's
    # engines running (test_supervisor.py); the supervisor closes this manager.
    pidfile = tmp_path / "grandchild.pid"
    manager = make_manager(
        fake_profile("a", args=["--grandchild", str(pidfile)]),
        fake_profile("b"),
        fake_profile("stuck", "unhealthy"),
    )
    await manager.ensure_ready("a")
    await manager.ensure_ready("b")
    await manager.start(launch_default=False)
    starting = asyncio.create_task(manager.ensure_ready("stuck"))
    await eventually(lambda: all(s.pid for s in manager.statuses()))
    pids = [s.pid for s in manager.statuses() if s.pid is not None]
    grandchild = int(pidfile.read_text())

    await manager.close()
    await manager.close()  # idempotent

    assert [p for p in [*pids, grandchild] if alive(p)] == []
    assert {s.state for s in manager.statuses()} == {EngineState.stopped}
    with pytest.raises(EngineUnavailable):
        await starting
    with pytest.raises(EngineUnavailable):
        await manager.ensure_ready("a")


async def test_external_profile_needs_no_process(make_control: ControlFactory) -> None:
    manager = make_control(
        {
            "name": "remote",
            "aliases": ["llama3"],
            "engine": "external",
            "urls": ["http://127.0.0.1:9/v1/"],
            "served_model_name": "meta-llama/Llama-3-8B",
        }
    )

    upstream = await manager.ensure_ready("llama3")

    assert upstream.base_url == "http://127.0.0.1:9/v1"
    assert upstream.model == "meta-llama/Llama-3-8B"
    [status] = manager.statuses()
    assert (status.state, status.pid, status.available) == (EngineState.ready, None, True)


async def test_vllm_profile_without_vllm_is_unavailable(
    make_control: ControlFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A host with neither `.venv-vllm` beside the gateway nor `vllm` on PATH.
    monkeypatch.setattr(launchers, "default_vllm_command", lambda: ("no-vllm-here", "serve"))
    manager = make_control({"name": "big", "engine": "vllm", "model": "org/model"})

    with pytest.raises(EngineUnavailable) as caught:
        await manager.ensure_ready("big")

    assert caught.value.retry_after >= 1
    [status] = manager.statuses()
    assert (status.state, status.available) == (EngineState.stopped, False)
    assert status.reason is not None
    assert status.reason.startswith("vLLM is not installed on this host ('no-vllm-here'")
    assert "make vllm" in status.reason


async def test_packaged_model_not_installed_names_the_fix(make_control: ControlFactory) -> None:
    manager = make_control(
        {"name": "local", "engine": "llamacpp", "model": "packaged:smollm2-135m-instruct"}
    )
    await manager.start()  # logs and carries on: the gateway still serves other models

    [status] = manager.statuses()
    assert status.state is EngineState.stopped
    assert not status.available
    assert status.reason is not None
    assert "make setup" in status.reason
    with pytest.raises(EngineUnavailable):
        await manager.ensure_ready("local")


async def test_the_context_an_engine_reports_is_used_for_external_engines_too(
    make_control: ControlFactory, upstream_profile: FakeProfile
) -> None:
    """vLLM says its max_model_len in /v1/models: what the gateway caps max_tokens by, also
    for an `external` server whose profile cannot say it."""
    manager = make_control(upstream_profile("engine", "--max-model-len", "3000"))
    spawned = await manager.ensure_ready("engine")
    assert spawned.context == 3000

    remote = make_control({"name": "remote", "engine": "external", "urls": [spawned.base_url]})
    assert (await remote.ensure_ready("remote")).context == 3000
