"""A gateway of its own for the admin engine routes: they switch models, which the shared
session gateway's other tests must never see."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import pytest

from tests.conftest import FAKE_UPSTREAM
from tests.utils.gateway import RunningGateway, start_gateway


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


@pytest.fixture(scope="module")
async def switch_gateway(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunningGateway]:
    data_dir = tmp_path_factory.mktemp("gateway-switch")
    profiles = data_dir / "profiles.yaml"
    profiles.write_text(switch_profiles_yaml())
    url = f"sqlite+aiosqlite:///{data_dir / 'gpuchat.db'}"
    async with start_gateway(data_dir=data_dir, database_url=url, profiles=profiles) as running:
        yield running
