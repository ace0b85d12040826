"""Schema-driven fuzzing (schemathesis) of the app's own OpenAPI document, as a user and as
an admin, against a gateway of its own on SQLite and on PostgreSQL (NUL characters, huge
ids and far dates fail differently there): no 5xx, no response outside the schema."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import POSTGRES_URL, fake_profiles_yaml, reset_postgres
from tests.utils.gateway import RunningGateway, start_gateway

# Not fuzzed here, each has tests of its own: logging in and out (throttled per address),
# never-ending live streams, and switching the engine the fuzzer itself is talking to.
EXCLUDED = "|".join(
    (
        r"^/api/auth/(login|logout|logout-all)$",
        r"^/api/admin/live$",
        r"^/api/admin/engines/.+/logs$",
        r"^/api/admin/profiles/.+/(activate|stop)$",
    )
)
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)


async def fuzz_database() -> str:
    """A PostgreSQL database of the fuzzer's own, beside the suite's (which a session-wide
    gateway may still be using)."""
    url = make_url(POSTGRES_URL)
    fuzz_url = url.set(database=f"{url.database}_fuzz")
    admin = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            exists = await connection.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": fuzz_url.database},
            )
            if not exists:
                await connection.execute(sa.text(f'CREATE DATABASE "{fuzz_url.database}"'))
    finally:
        await admin.dispose()
    rendered = fuzz_url.render_as_string(hide_password=False)
    await reset_postgres(rendered)
    return rendered


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def fuzz_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    data_dir = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    profiles = data_dir / "profiles.yaml"
    profiles.write_text(fake_profiles_yaml())
    if request.param == "postgres":
        url = await fuzz_database()
    else:
        url = f"sqlite+aiosqlite:///{data_dir / 'fuzz.db'}"
    async with start_gateway(data_dir=data_dir, database_url=url, profiles=profiles) as running:
        yield running


async def run_schemathesis(gateway: RunningGateway, key: str, tmp_path: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "run",
        f"{gateway.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        CHECKS,
        "--max-examples",
        "25",
        "--phases",
        "examples,coverage,fuzzing",
        "--exclude-path-regex",
        EXCLUDED,
        "--seed",
        "1",
        # One worker: with two, hypothesis parses lambdas' source in two threads at once,
        # which CPython 3.11 before 3.11.8 can crash on ("AST constructor recursion depth
        # mismatch"), failing the run for no fault of the gateway.
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--output-sanitize",
        "true",
        "--report-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=480)
    return process.returncode or 0, output.decode(errors="replace")


@pytest.mark.parametrize("role", ["user", "admin"])
async def test_fuzz_finds_no_server_errors_or_schema_violations(
    fuzz_gateway: RunningGateway, role: str, tmp_path: Path
) -> None:
    key = (
        fuzz_gateway.api_key
        if role == "admin"
        else await fuzz_gateway.new_key("fuzz-user@example.com")
    )
    code, output = await run_schemathesis(fuzz_gateway, key, tmp_path)
    assert code == 0, output[-6000:]
