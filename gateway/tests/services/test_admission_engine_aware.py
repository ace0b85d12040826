"""Engine-aware admission: a full engine (vLLM's own queue, its KV cache) holds new requests
in gpuchat's queue, where users see their place, instead of inside the engine."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gpuchat.engines.load import EngineLoad
from gpuchat.services.limits.admission import Admission
from tests.conftest import FAKE_UPSTREAM
from tests.utils.gateway import RunningGateway, start_gateway


def load(running: int, waiting: int, kv: float = 0.5) -> EngineLoad:
    return EngineLoad(running=running, waiting=waiting, kv_cache_usage=kv, at=0.0)


def test_a_full_engine_caps_admission_at_what_it_runs_and_room_grows_it_back() -> None:
    admission = Admission(max_length=50, max_wait_s=60)
    first = [admission.enter("e", 16, f"u{n}") for n in range(6)]
    assert all(t.admitted for t in first)  # nothing known of the engine yet: the static limit
    queue = first[0].queue

    queue.observe(load(running=2, waiting=4))  # it runs 2 of our 6, 4 wait inside it
    assert queue.allowed == 2
    later = admission.enter("e", 16, "late")
    assert not later.admitted and later.position == 1

    for ticket in first[:4]:  # four answers end; the engine has room again
        ticket.close()
    assert not later.admitted  # still 2 in flight, at the capacity
    queue.observe(load(running=2, waiting=0))
    assert later.admitted and queue.allowed == 3

    for _ in range(10):  # room, again and again: back to the static limit
        queue.inflight = queue.allowed
        queue.observe(load(running=queue.inflight, waiting=0))
    assert queue.capacity is None and queue.allowed == 16


def test_a_full_kv_cache_counts_as_full_and_no_report_means_the_static_limit() -> None:
    admission = Admission(max_length=50, max_wait_s=60)
    tickets = [admission.enter("e", 8, f"u{n}") for n in range(3)]
    queue = tickets[0].queue

    queue.observe(load(running=3, waiting=0, kv=0.99))
    assert queue.allowed == 3 and not admission.enter("e", 8, "late").admitted

    queue.observe(None)  # the engine stopped saying: the profile's limit again
    assert queue.allowed == 8


def _profiles(aware: bool) -> str:
    argv = [sys.executable, str(FAKE_UPSTREAM), "--port", "{port}", "--batch", "2"]
    return f"""
default: batched
profiles:
  - name: batched
    aliases: [default]
    engine: command
    command: {argv!r}
    health: /health
    served_model_name: batched
    max_concurrency: 16
    engine_aware_admission: {str(aware).lower()}
    timeouts: {{first_token: 30, idle: 30, total: 60}}
"""


@pytest.fixture(params=[True, False], ids=["engine-aware", "static"])
async def batched(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[RunningGateway, bool]]:
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(_profiles(request.param))
    async with start_gateway(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        profiles=profiles,
    ) as running:
        yield running, request.param


async def _stream(client: httpx.AsyncClient, seen: list[str]) -> int:
    body = {
        "model": "default",
        "messages": [{"role": "user", "content": "!tokens 15 !gap 0.1"}],
        "stream": True,
    }
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            seen.append(line)
    return response.status_code


async def test_requests_beyond_what_the_engine_runs_wait_in_gpuchats_queue(
    batched: tuple[RunningGateway, bool],
) -> None:
    gateway, aware = batched
    async with gateway.client() as client:
        first = [asyncio.create_task(_stream(client, [])) for _ in range(4)]
        await asyncio.sleep(2.5)  # the engine runs 2 and holds 2; the gateway has read that
        late_lines: list[list[str]] = [[], []]
        late = [asyncio.create_task(_stream(client, lines)) for lines in late_lines]
        statuses = await asyncio.gather(*first, *late)

    assert statuses == [200] * 6
    told_position = [any(line.startswith(": queued position=") for line in ls) for ls in late_lines]
    assert told_position == ([True, True] if aware else [False, False])
    assert all(any("[DONE]" in line for line in lines) for lines in late_lines)
