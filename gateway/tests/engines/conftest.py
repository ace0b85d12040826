"""Fixtures for the engines tests: profiles around the fake engine, process checks."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from gpuchat.engines.control import EngineControl
from gpuchat.engines.manager import EngineManager
from gpuchat.engines.profiles import ProfilesFile
from gpuchat.engines.remote import RemoteEngineControl
from gpuchat.engines.supervisor_app import create_supervisor_app

FAKE_ENGINE = Path(__file__).with_name("fake_engine.py")
FAKE_UPSTREAM = Path(__file__).parents[1] / "fakes" / "upstream.py"

FakeProfile = Callable[..., dict[str, Any]]
ManagerFactory = Callable[..., EngineManager]
ControlFactory = Callable[..., EngineControl]
SUPERVISOR_SECRET = "supervisor-secret-for-tests-0123456789"


@pytest.fixture
def fake_profile() -> FakeProfile:
    """fake_profile(name, mode="ok", start=20.0, args=[...], **keys) -> a `command` profile."""

    def build(name: str, mode: str = "ok", *, start: float = 20.0, **extra: Any) -> dict[str, Any]:
        command = [sys.executable, str(FAKE_ENGINE), "--port", "{port}", "--mode", mode]
        command += extra.pop("args", [])
        return {
            "name": name,
            "engine": "command",
            "command": command,
            "health": "/health",
            "timeouts": {"start": start},
            **extra,
        }

    return build


@pytest.fixture
def upstream_profile() -> FakeProfile:
    """upstream_profile(name, *options, **keys) -> a `command` profile running the fake
    OpenAI upstream (tests/fakes/upstream.py) with engine options such as --load-seconds."""

    def build(name: str, *options: str, start: float = 20.0, **extra: Any) -> dict[str, Any]:
        timeouts = {"start": start, **extra.pop("timeouts", {})}
        return {
            "name": name,
            "engine": "command",
            "command": [sys.executable, str(FAKE_UPSTREAM), "--port", "{port}", *options],
            "health": "/health",
            "served_model_name": name,
            "timeouts": timeouts,
            **extra,
        }

    return build


@pytest.fixture
async def make_manager(tmp_path: Path) -> AsyncIterator[ManagerFactory]:
    """make_manager(*profiles, default=None) -> an EngineManager closed after the test."""
    managers: list[EngineManager] = []

    def build(*profiles: dict[str, Any], default: str | None = None) -> EngineManager:
        file = ProfilesFile.model_validate({"default": default, "profiles": list(profiles)})
        manager = EngineManager(file, models_dir=tmp_path / "models", logs_dir=tmp_path / "logs")
        managers.append(manager)
        return manager

    yield build
    for manager in managers:
        await manager.close()


@pytest.fixture(params=["in-process", "supervisor"])
async def make_control(
    request: pytest.FixtureRequest, make_manager: ManagerFactory
) -> AsyncIterator[ControlFactory]:
    """make_control(*profiles, default=None) -> the EngineControl under test: the manager
    itself, or a RemoteEngineControl talking to `gpuchat supervisor`'s app over that manager
    (served on a loopback port in this event loop)."""
    runners: list[web.AppRunner] = []
    clients: list[RemoteEngineControl] = []

    def build(*profiles: dict[str, Any], default: str | None = None) -> EngineControl:
        manager = make_manager(*profiles, default=default)
        if request.param == "in-process":
            return manager
        file = ProfilesFile.model_validate({"default": default, "profiles": list(profiles)})
        app = create_supervisor_app(manager, file, secret=SUPERVISOR_SECRET)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        runners.append(runner)
        client = LazySupervisorClient(runner, SUPERVISOR_SECRET)
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.close()
    for runner in runners:
        await runner.cleanup()


class LazySupervisorClient(RemoteEngineControl):
    """A RemoteEngineControl whose supervisor app starts serving on its first call (the
    factory is synchronous, like the manager's constructor)."""

    def __init__(self, runner: web.AppRunner, secret: str) -> None:
        super().__init__("http://127.0.0.1:0", secret, poll_s=0.05, connect_wait_s=0)
        self._runner: web.AppRunner | None = runner
        self._serving = asyncio.Lock()

    async def _connect(self) -> None:
        async with self._serving:
            if self._runner is not None:
                await self._runner.setup()
                await web.TCPSite(self._runner, "127.0.0.1", 0).start()
                self._url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
                self._runner = None
        await super()._connect()


def process_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for a parent to reap it counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def alive() -> Callable[[int], bool]:
    return process_alive
