"""`ProfileCatalog` with several gateway processes: each has its own database pool and its
own client of one `gpuchat supervisor`, as `gpuchat run` with several workers has."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import aiohttp
import yaml

from gpuchat.core.db import create_engine, create_sessionmaker
from gpuchat.db import migrate
from gpuchat.engines.manager import EngineManager
from gpuchat.engines.profiles import ProfilesFile, load_profiles
from gpuchat.engines.remote import RemoteEngineControl
from gpuchat.services.audit.record import Actor
from gpuchat.services.profiles.catalog import ProfileCatalog
from gpuchat.services.profiles.seed import load_profile_set
from tests.test_cli_db import database_url, new_postgres_database
from tests.utils.supervisor import serve_supervisor

__all__ = ["database_url", "new_postgres_database"]  # fixtures used here

SECRET = "supervisor-secret-for-tests-0123456789"
SEED = """
default: alpha
profiles:
  - name: alpha
    engine: external
    urls: ["http://127.0.0.1:9/v1"]
  - name: beta
    engine: external
    urls: ["http://127.0.0.1:10/v1"]
"""


def edited(name: str, port: int, description: str) -> str:
    return yaml.safe_dump(
        {
            "name": name,
            "engine": "external",
            "urls": [f"http://127.0.0.1:{port}/v1"],
            "description": description,
        }
    )


@asynccontextmanager
async def supervisor(file: ProfilesFile, data: Path) -> AsyncIterator[str]:
    manager = EngineManager(file, models_dir=data / "models", logs_dir=data / "logs")
    try:
        async with serve_supervisor(manager, file, secret=SECRET) as url:
            yield url
    finally:
        await manager.close()


@asynccontextmanager
async def gateway_process(
    url: str, supervisor_url: str, seed: Path
) -> AsyncIterator[ProfileCatalog]:
    """What one gateway worker builds at its start (main.py): its pool, the stored set
    pushed to the supervisor, the catalog the admin routes use."""
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    stored = await load_profile_set(sessions, seed)
    control = RemoteEngineControl(supervisor_url, SECRET, poll_s=0.05)
    await control.replace_profiles(stored.profiles, revision=stored.revision)
    await control.start(launch_default=False)
    try:
        yield ProfileCatalog(
            sessions,
            control,
            editable=True,
            seed=seed,
            models_dir=seed.parent / "models",
            vllm_command=None,
        )
    finally:
        await control.close()
        await engine.dispose()


async def test_edits_from_two_processes_at_once_both_reach_the_supervisor(
    database_url: str, tmp_path: Path
) -> None:
    seed = tmp_path / "profiles.yaml"
    seed.write_text(SEED)
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    await engine.dispose()
    async with AsyncExitStack() as stack:
        supervisor_url = await stack.enter_async_context(supervisor(load_profiles(seed), tmp_path))
        first, second = [
            await stack.enter_async_context(gateway_process(database_url, supervisor_url, seed))
            for _ in range(2)
        ]
        # Two administrators save at the same instant, each answered by another worker.
        await asyncio.gather(
            first.update("alpha", edited("alpha", 11, "first"), Actor.cli()),
            second.update("beta", edited("beta", 12, "second"), Actor.cli()),
        )
        held = {p["name"]: p.get("description") for p in await held_profiles(supervisor_url)}
        stored = {d.name: d.document.get("description") for d in await first.definitions()}

    assert stored == {"alpha": "first", "beta": "second"}
    assert held == stored  # neither push carried a set without the other's edit


async def held_profiles(supervisor_url: str) -> list[dict[str, object]]:
    """The set the supervisor holds (GET /control/profiles)."""
    headers = {"Authorization": f"Bearer {SECRET}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.get(f"{supervisor_url}/control/profiles") as response,
    ):
        body = await response.json()
    profiles: list[dict[str, object]] = body["profiles"]
    return profiles
