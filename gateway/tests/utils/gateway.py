"""Start a real gateway in the test's event loop and talk to it."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import uvicorn
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import create_async_engine

from gpuchat.core.config import ProfilesSource, Settings
from gpuchat.core.db import session_scope
from gpuchat.core.server import GuardedHttpToolsProtocol, server_options
from gpuchat.db.repositories import keys, users
from gpuchat.main import create_app
from gpuchat.state import AppState

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-for-tests"
USER_PASSWORD = "password-123456"
ALLOWED_ORIGIN = "https://chat.example.com"
# Every test gateway logs here too; the session ends by checking it holds no secrets.
LOG_FILE = Path(__file__).resolve().parents[3] / "data" / "test-logs" / f"{os.getpid()}.log"


class QuickHeaderTimeout(GuardedHttpToolsProtocol):
    """The production protocol, with a header deadline a test can wait for."""

    HEADER_TIMEOUT_SECONDS = 1.5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningGateway:
    url: str
    state: AppState
    api_key: str
    backend: str

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key or self.api_key}"}
        kwargs.setdefault("timeout", 30)
        return httpx.AsyncClient(base_url=self.url, headers=headers, **kwargs)

    async def upstream_url(self, profile: str = "fake") -> str:
        upstream = await self.state.engines.ensure_ready(profile)
        return upstream.base_url.removesuffix("/v1")

    async def new_key(self, email: str, *, name: str = "test") -> str:
        async with session_scope(self.state.sessions) as session:
            user = await users.get_user_by_email(session, email)
            if user is None:
                user = await users.create_user(session, email, USER_PASSWORD, admin=False)
            _, secret = await keys.create_api_key(session, user, name)
        return secret

    @asynccontextmanager
    async def login(
        self, email: str, password: str = USER_PASSWORD, *, address: str | None = None
    ) -> AsyncIterator[httpx.AsyncClient]:
        """A browser-like client holding the session cookie (create the user first)."""
        headers = {"X-Forwarded-For": address or _address_for(email)}
        async with httpx.AsyncClient(base_url=self.url, timeout=30, headers=headers) as client:
            response = await client.post(
                "/api/auth/login", json={"email": email, "password": password}
            )
            assert response.status_code == 200, response.text
            yield client

    async def create_user(
        self, email: str, *, admin: bool = False, limits: dict[str, int] | None = None
    ) -> None:
        async with session_scope(self.state.sessions) as session:
            if await users.get_user_by_email(session, email) is None:
                await users.create_user(session, email, USER_PASSWORD, admin=admin, limits=limits)


def _address_for(email: str) -> str:
    """A stable fake client address per email, so throttling tests don't share a bucket."""
    digest = hashlib.sha256(email.encode()).digest()
    return f"10.{digest[0]}.{digest[1]}.{digest[2]}"


POSTGRES_URL = os.environ.get(
    "GPUCHAT_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
FAKE_UPSTREAM = Path(__file__).resolve().parents[1] / "fakes" / "upstream.py"


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


@asynccontextmanager
async def start_gateway_on(
    backend: str, data_dir: Path, **settings: Any
) -> AsyncIterator[RunningGateway]:
    """A gateway running the fake profiles on `backend`: "sqlite" (a new database file in
    `data_dir`) or "postgres" (the test database, `GPUCHAT_TEST_DATABASE_URL`, emptied
    first). `settings`: more settings, as for `start_gateway`."""
    if backend == "postgres":
        await reset_postgres(POSTGRES_URL)
        url = POSTGRES_URL
    else:
        url = f"sqlite+aiosqlite:///{data_dir / 'gpuchat.db'}"
    profiles = data_dir / "profiles.yaml"
    profiles.write_text(fake_profiles_yaml())
    async with start_gateway(
        data_dir=data_dir, database_url=url, profiles=profiles, **settings
    ) as running:
        yield running


@asynccontextmanager
async def start_gateway(
    *,
    data_dir: Path,
    database_url: str,
    profiles: Path,
    wait_ready: bool = True,
    **overrides: Any,
) -> AsyncIterator[RunningGateway]:
    """`overrides`: more settings (limits, Redis, queue bounds) for a gateway of its own.
    `wait_ready=False`: answer while the default engine is still starting.
    Profiles come from `profiles` alone (GPUCHAT_PROFILES_SOURCE=file) unless a test asks
    for the database (`profiles_source="database"`): tests share databases, not files."""
    overrides.setdefault("profiles_source", ProfilesSource.file)
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        profiles=profiles,
        admin_email=ADMIN_EMAIL,
        admin_password=SecretStr(ADMIN_PASSWORD),
        log_level="INFO",
        log_file=LOG_FILE,
        # Tests speak for many clients through X-Forwarded-For from loopback.
        trusted_proxies=["127.0.0.1"],
        cors_origins=[ALLOWED_ORIGIN],
        **overrides,
    )
    app = create_app(settings)
    port = free_port()
    options = {**server_options(settings), "http": QuickHeaderTimeout}
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="none",
        lifespan="on",
        log_level="warning",
        **options,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    state: AppState = app.state.gpuchat
    if wait_ready:
        await state.engines.ensure_ready("default")
    backend = "postgres" if database_url.startswith("postgresql") else "sqlite"
    running = RunningGateway(f"http://127.0.0.1:{port}", state, "", backend)
    running.api_key = await running.new_key(ADMIN_EMAIL, name="tests")
    try:
        yield running
    finally:
        server.should_exit = True
        await task


REPO = Path(__file__).resolve().parents[3]
PACKAGED_MODELS_DIR = REPO / "data" / "models"
VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"
# GPUCHAT_VLLM_COMMAND for the real-vLLM tests: the default command at the lowest CPU
# priority, so that on a 2-core machine vLLM does not take the cores from the gateway under
# test (which shares its process with the test itself).
NICE_VLLM = f"nice -n 19 {VLLM_PYTHON} -m vllm.entrypoints.openai.api_server --model"


@asynccontextmanager
async def packaged_gateway(
    data_dir: Path, profiles_yaml: str, **options: Any
) -> AsyncIterator[RunningGateway]:
    """A gateway on SQLite in `data_dir` whose profiles run the packaged models that
    `make setup` / `make vllm` put in ./data/models (linked, not copied)."""
    (data_dir / "models").symlink_to(PACKAGED_MODELS_DIR)
    profiles = data_dir / "profiles.yaml"
    profiles.write_text(profiles_yaml)
    async with start_gateway(
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'db.sqlite'}",
        profiles=profiles,
        **options,
    ) as running:
        yield running
