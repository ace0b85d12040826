"""Two gateway processes (replicas, or workers of one) sharing PostgreSQL-or-SQLite and
Redis: the admin's live view shows the streams of both, and a stop, the admin's or a
user's from another tab, reaches the stream whichever process relays it."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
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
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(fake_profiles_yaml())
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


async def _open_stream(client: httpx.AsyncClient) -> OpenStream:
    """A long API stream, read in the background."""
    lines: list[str] = []
    started = asyncio.Event()

    async def read() -> None:
        body = {"model": "fake", "stream": True, "messages": [{"role": "user", "content": LONG}]}
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
