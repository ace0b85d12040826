"""Two gateway processes (replicas, or workers of one) sharing PostgreSQL-or-SQLite and
Redis: the admin's live view shows the streams of both, and a stop, the admin's or a
user's from another tab, reaches the stream whichever process relays it."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gpuchat.services.cluster import Answers, Cluster
from tests.conftest import fake_profiles_yaml
from tests.utils.chat import ChatEvents, chat
from tests.utils.gateway import ADMIN_EMAIL, ADMIN_PASSWORD, RunningGateway, start_gateway

REDIS_URL = os.environ.get("GPUCHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LONG = "!tokens 400 !gap 0.05"  # a 20 s answer from the fake engine


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[RunningGateway, RunningGateway]]:
    async with _pair(tmp_path) as running:
        yield running


@asynccontextmanager
async def _pair(
    tmp_path: Path, max_concurrency: int = 64
) -> AsyncIterator[tuple[RunningGateway, RunningGateway]]:
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(fake_profiles_yaml(max_concurrency))
    options = {
        "data_dir": tmp_path,  # one session secret: a login on one is valid on the other
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        "profiles": profiles,
        "redis_url": REDIS_URL,
    }
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(start_gateway(**options))
        second = await stack.enter_async_context(start_gateway(**options))
        yield first, second


@dataclass
class OpenStream:
    lines: list[str]
    reader: asyncio.Task[None]


async def _open_stream(client: httpx.AsyncClient, content: str = LONG) -> OpenStream:
    """A long API stream, read in the background."""
    lines: list[str] = []
    started = asyncio.Event()

    async def read() -> None:
        messages = [{"role": "user", "content": content}]
        body = {"model": "fake", "stream": True, "messages": messages}
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                lines.append(line)
                started.set()

    stream = OpenStream(lines, asyncio.create_task(read()))
    await asyncio.wait_for(started.wait(), 10)
    return stream


async def test_the_live_view_and_the_admin_stop_reach_every_process(
    pair: tuple[RunningGateway, RunningGateway],
) -> None:
    first, second = pair
    async with first.client() as client, second.login(ADMIN_EMAIL, ADMIN_PASSWORD) as admin:
        stream = await _open_stream(client)
        live = (await admin.get("/api/admin/live")).json()
        [listed] = live["streams"]
        stopped = await admin.post(f"/api/admin/streams/{listed['request_id']}/stop")
        await asyncio.wait_for(stream.reader, 10)
    assert live["processes"] == {"answered": 2, "complete": True}
    assert stopped.status_code == 200, stopped.text
    assert any('"stopped_by_admin"' in line for line in stream.lines), stream.lines[-3:]


async def test_a_user_stops_an_answer_from_a_tab_on_the_other_process(
    pair: tuple[RunningGateway, RunningGateway],
) -> None:
    first, second = pair
    email = "cluster-user@example.com"
    await first.create_user(email)
    stops: list[int] = []
    async with first.login(email) as tab_one, second.login(email) as tab_two:

        async def stop_from_tab_two(events: ChatEvents) -> None:
            if len(events.of("delta")) >= 3 and not stops:
                request_id = events.one("start")["request_id"]
                stops.append((await tab_two.post(f"/api/chat/{request_id}/stop")).status_code)

        turn = await asyncio.wait_for(
            chat(tab_one, {"content": LONG}, on_events=stop_from_tab_two), 15
        )
    assert stops == [204]
    assert turn.one("done")["status"] == "interrupted"


async def test_another_users_answer_cannot_be_stopped_from_any_process(
    pair: tuple[RunningGateway, RunningGateway],
) -> None:
    first, second = pair
    for email in ("owner@example.com", "intruder@example.com"):
        await first.create_user(email)
    answers: list[int] = []
    async with (
        first.login("owner@example.com") as owner,
        second.login("intruder@example.com") as intruder,
    ):

        async def try_to_stop(events: ChatEvents) -> None:
            if len(events.of("delta")) >= 2 and not answers:
                request_id = events.one("start")["request_id"]
                answers.append((await intruder.post(f"/api/chat/{request_id}/stop")).status_code)

        turn = await chat(owner, {"content": "!tokens 8 !gap 0.1"}, on_events=try_to_stop)
    assert answers == [404]
    assert turn.one("done")["status"] == "complete"


async def test_with_redis_away_a_question_is_answered_here_at_once_and_said_incomplete() -> None:
    cluster = Cluster("redis://127.0.0.1:9/0", {"streams": lambda _: ["here"]})
    await cluster.start()
    try:
        started = time.monotonic()
        first = await cluster.ask("streams", {})
        second = await cluster.ask("streams", {})  # the breaker is open: not even tried
        took = time.monotonic() - started
    finally:
        await cluster.close()
    assert first == second == Answers([["here"]], complete=False)
    assert took < 2  # one short timeout, not one per question


async def _until(check: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.05)


def _answering(stream: OpenStream) -> bool:
    return any(line.startswith("data: ") for line in stream.lines)


def _positions(stream: OpenStream) -> list[int]:
    return [int(line.rsplit("=", 1)[1]) for line in stream.lines if "queued position=" in line]


async def test_queue_positions_count_the_requests_waiting_on_every_process(
    tmp_path: Path,
) -> None:
    """One slot for the engine, three requests: a stream on the first process, then one
    waiting on each; each waiting request is told its place among all of them, and they are
    served in the order they came, whichever process they came to."""
    async with (
        _pair(tmp_path, max_concurrency=1) as (first, second),
        first.client() as one,
        second.client() as two,
    ):
        running = await _open_stream(one, "!tokens 60 !gap 0.05")
        came_second = await _open_stream(two)
        came_third = await _open_stream(one, "!tokens 5")
        assert (_positions(came_second), _positions(came_third)) == ([1], [2])

        running.reader.cancel()  # its client leaves: the slot is free
        await _until(lambda: _answering(came_second))
        await _until(lambda: _positions(came_third)[-1] == 1)
        assert not _answering(came_third)  # its own process had room first, but it came later

        came_second.reader.cancel()
        await _until(lambda: _answering(came_third))
        await asyncio.wait_for(came_third.reader, 10)
    assert "data: [DONE]" in came_third.lines
