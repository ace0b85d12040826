"""Shared fixtures: a real gateway (uvicorn on a loopback port) per database backend.

Every test that uses `gateway` runs twice: on SQLite and on the local PostgreSQL
(`GPUCHAT_TEST_DATABASE_URL`, default the `test` database on 127.0.0.1).
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.utils.gateway import LOG_FILE, RunningGateway, start_gateway
from tests.utils.secrets_in_logs import find_secrets

TESTS = Path(__file__).resolve().parent
FAKE_UPSTREAM = TESTS / "fakes" / "upstream.py"
POSTGRES_URL = os.environ.get(
    "GPUCHAT_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def fake_profiles_yaml(max_concurrency: int = 64) -> str:
    argv = [sys.executable, str(FAKE_UPSTREAM), "--port", "{port}"]
    return f"""
default: fake
profiles:
  - name: fake
    aliases: [default, fake-model]
    engine: command
    command: {argv!r}
    health: /health
    served_model_name: fake
    max_concurrency: {max_concurrency}
    limits: {{max_tokens: 512}}
    timeouts: {{connect: 2, first_token: 3, idle: 1.5, total: 20, start: 20}}
  - name: unreachable
    engine: external
    urls: ["http://127.0.0.1:9/v1"]
    timeouts: {{connect: 1}}
"""


async def reset_postgres(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            await connection.execute(sa.text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    data_dir = tmp_path_factory.mktemp(f"gateway-{request.param}")
    if request.param == "postgres":
        await reset_postgres(POSTGRES_URL)
        url = POSTGRES_URL
    else:
        url = f"sqlite+aiosqlite:///{data_dir / 'gpuchat.db'}"
    profiles = data_dir / "profiles.yaml"
    profiles.write_text(fake_profiles_yaml())
    async with start_gateway(data_dir=data_dir, database_url=url, profiles=profiles) as running:
        yield running


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After the whole suite: the gateways' logs must hold no password, token or full key."""
    if not LOG_FILE.exists():
        return
    text = LOG_FILE.read_text(encoding="utf-8", errors="replace")
    LOG_FILE.unlink()
    leaks = find_secrets(text)
    if leaks:
        print("\nSecrets found in the gateway logs:\n  " + "\n  ".join(leaks), file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
