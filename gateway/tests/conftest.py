"""Shared fixtures: a real gateway (uvicorn on a loopback port) per database backend.

Every test that uses `gateway` runs twice: on SQLite and on the local PostgreSQL
(`GPUCHAT_TEST_DATABASE_URL`, default the `test` database on 127.0.0.1).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import pytest

from tests.utils.gateway import (
    FAKE_UPSTREAM,
    LOG_FILE,
    POSTGRES_URL,
    RunningGateway,
    fake_profiles_yaml,
    reset_postgres,
    start_gateway_on,
)
from tests.utils.secrets_in_logs import find_secrets

# Defined in tests/utils/gateway.py; many test modules import them from here.
__all__ = ["FAKE_UPSTREAM", "POSTGRES_URL", "fake_profiles_yaml", "reset_postgres"]


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    data_dir = tmp_path_factory.mktemp(f"gateway-{request.param}")
    async with start_gateway_on(request.param, data_dir) as running:
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
