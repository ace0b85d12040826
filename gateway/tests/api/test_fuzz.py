"""Schema-driven fuzzing (schemathesis) of the app's own OpenAPI document, as a user and as
an admin, against a gateway of its own: no 5xx, no response outside the documented schema."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import fake_profiles_yaml
from tests.utils.gateway import RunningGateway, start_gateway

# Not fuzzed here, each has tests of its own: logging in and out (throttled per address),
# never-ending live streams, and switching the engine the fuzzer itself is talking to.
EXCLUDED = "|".join(
    (
        r"^/api/auth/(login|logout)$",
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


@pytest.fixture(scope="module")
async def fuzz_gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningGateway]:
    data_dir = tmp_path_factory.mktemp("fuzz")
    profiles = data_dir / "profiles.yaml"
    profiles.write_text(fake_profiles_yaml())
    async with start_gateway(
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'fuzz.db'}",
        profiles=profiles,
    ) as running:
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
        "^/api/auth/(login|logout)$",
        "--seed",
        "1",
        "--workers",
        "2",
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
