"""A gateway of its own for the admin engine routes: they switch models, which the shared
session gateway's other tests must never see."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from gpuchat.engines.manager import EngineManager
from gpuchat.engines.profiles import load_profiles
from tests.conftest import FAKE_UPSTREAM
from tests.utils.gateway import RunningGateway, start_gateway
from tests.utils.supervisor import serve_supervisor

SECRET = SecretStr("supervisor-secret-for-admin-tests-0123456789")


def switch_profiles_yaml() -> str:
    def command(*options: str) -> str:
        return repr([sys.executable, str(FAKE_UPSTREAM), "--port", "{port}", *options])

    return f"""
default: alpha
profiles:
  - name: alpha
    aliases: [default, alpha-model]
    engine: command
    command: {command()}
    served_model_name: alpha
    gpus: [0]
    timeouts: {{drain: 5, start: 20, idle: 3}}
  - name: beta
    aliases: [beta-model]
    engine: command
    command: {command("--load-seconds", "1", "--progress")}
    served_model_name: beta
    gpus: [0]
    timeouts: {{drain: 5, start: 20, idle: 3}}
    benchmark: {{after_switch: true, requests: 2, concurrency: [1, 2], max_tokens: 8}}
  - name: remote
    engine: external
    urls: ["http://127.0.0.1:9/v1"]
"""


@pytest.fixture(scope="module", params=["in-process", "supervisor"])
async def switch_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    """The gateway running its engines, or asking `gpuchat supervisor` (served here)."""
    data_dir = tmp_path_factory.mktemp("gateway-switch")
    profiles = data_dir / "profiles.yaml"
    profiles.write_text(switch_profiles_yaml())
    url = f"sqlite+aiosqlite:///{data_dir / 'gpuchat.db'}"
    async with contextlib.AsyncExitStack() as stack:
        overrides: dict[str, Any] = {}
        if request.param == "supervisor":
            supervisor_url = await stack.enter_async_context(supervisor(data_dir, profiles))
            overrides = {"supervisor_url": supervisor_url, "supervisor_secret": SECRET}
        running = await stack.enter_async_context(
            start_gateway(data_dir=data_dir, database_url=url, profiles=profiles, **overrides)
        )
        yield running


@contextlib.asynccontextmanager
async def supervisor(data_dir: Path, profiles: Path) -> AsyncIterator[str]:
    """What `gpuchat supervisor` runs, on a loopback port of this event loop."""
    file = load_profiles(profiles)
    manager = EngineManager(file, models_dir=data_dir / "models", logs_dir=data_dir / "logs")
    try:
        async with serve_supervisor(manager, file, secret=SECRET.get_secret_value()) as url:
            yield url
    finally:
        await manager.close()
