"""A profile's timeouts fire on time (within half a second of their setting), on /v1 and in
the web chat, streaming or not, whatever the keep-alive interval (15 s) is."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gpuchat.db.models import UsageRow
from tests.conftest import FAKE_UPSTREAM
from tests.services.test_relay import usage_row
from tests.utils.chat import ChatEvents, chat
from tests.utils.gateway import RunningGateway, free_port, start_gateway
from tests.utils.streams import chat_body, stream_chat

IDLE_S = 1.0
FIRST_TOKEN_S = 1.0
TOTAL_S = 1.5
SLACK_S = 1.5  # what a busy two-core test machine may add; the promise is 0.5 s


def profiles_yaml(url: str) -> str:
    """One engine, three profiles: each has one short timeout, the others long."""
    return f"""
default: idle
profiles:
  - name: idle
    aliases: [default, idle-model]
    engine: external
    urls: ["{url}"]
    served_model_name: fake
    timeouts: {{first_token: 60, idle: {IDLE_S}, total: 120}}
  - name: first
    aliases: [first-model]
    engine: external
    urls: ["{url}"]
    served_model_name: fake
    timeouts: {{first_token: {FIRST_TOKEN_S}, idle: 60, total: 120}}
  - name: total
    aliases: [total-model]
    engine: external
    urls: ["{url}"]
    served_model_name: fake
    timeouts: {{first_token: 60, idle: 60, total: {TOTAL_S}}}
"""


def write_profiles(data_dir: Path, url: str) -> Path:
    profiles = data_dir / "profiles.yaml"
    profiles.write_text(profiles_yaml(url))
    return profiles


@pytest.fixture(scope="module")
async def timed_gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningGateway]:
    data_dir = tmp_path_factory.mktemp("gateway-deadlines")
    port = free_port()
    engine = await asyncio.create_subprocess_exec(
        sys.executable, str(FAKE_UPSTREAM), "--port", str(port)
    )
    try:
        await _listening(port)
        profiles = write_profiles(data_dir, f"http://127.0.0.1:{port}/v1")
        url = f"sqlite+aiosqlite:///{data_dir / 'gpuchat.db'}"
        async with start_gateway(data_dir=data_dir, database_url=url, profiles=profiles) as gw:
            yield gw
    finally:
        engine.kill()
        await engine.wait()


async def _listening(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    pytest.fail("the fake engine did not start")


def assert_on_time(elapsed: float, setting: float) -> None:
    assert setting - 0.1 < elapsed < setting + SLACK_S, f"fired after {elapsed:.2f}s"


async def test_idle_timeout_fires_on_time_after_the_first_token(
    timed_gateway: RunningGateway,
) -> None:
    """One token, then silence: the idle timeout ends it, not the 15 s keep-alive."""
    started = time.monotonic()
    async with timed_gateway.client() as client:
        result = await stream_chat(
            client, chat_body("!stall 1 !tokens 5", model="idle-model"), timeout=30
        )
    elapsed = time.monotonic() - started
    assert result.text == "t0" and not result.done
    assert result.errors[0]["error"]["code"] == "upstream_timeout"
    assert_on_time(elapsed, IDLE_S)
    row = await usage_row(timed_gateway, result.headers["x-request-id"])
    assert (row.status_code, row.error_type) == (504, "upstream_timeout")


@pytest.mark.parametrize(
    "script", ["!slow 20", "!prefill 20"], ids=["before-status-line", "after-status-line"]
)
async def test_first_token_timeout_fires_on_time(
    timed_gateway: RunningGateway, script: str
) -> None:
    """An engine that has not sent its status line yet is held to the same deadline."""
    started = time.monotonic()
    async with timed_gateway.client() as client:
        result = await stream_chat(client, chat_body(script, model="first-model"), timeout=30)
    elapsed = time.monotonic() - started
    assert_on_time(elapsed, FIRST_TOKEN_S)
    assert result.status in (200, 504)
    if result.status == 200:
        assert result.errors[0]["error"]["code"] == "upstream_timeout" and not result.done
    row = await usage_row(timed_gateway, result.headers["x-request-id"])
    assert (row.status_code, row.error_type) == (504, "upstream_timeout")


async def test_total_timeout_of_a_non_streaming_answer_fires_on_time(
    timed_gateway: RunningGateway,
) -> None:
    """A non-streaming answer comes whole, status line last: `total` bounds that wait."""
    started = time.monotonic()
    async with timed_gateway.client() as client:
        response = await client.post(
            "/v1/chat/completions",
            json=chat_body("!slow 20", model="total-model", stream=False),
            timeout=30,
        )
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert_on_time(elapsed, TOTAL_S)
    row = await usage_row(timed_gateway, response.headers["x-request-id"])
    assert row.error_type == "upstream_timeout"


@pytest.mark.parametrize(
    ("model", "script", "setting"),
    [("idle-model", "!stall 1 !tokens 5", IDLE_S), ("first-model", "!slow 20", FIRST_TOKEN_S)],
    ids=["idle", "first-token"],
)
async def test_web_chat_timeouts_fire_on_time(
    timed_gateway: RunningGateway, model: str, script: str, setting: float
) -> None:
    email = f"patient-{model}@example.com"
    await timed_gateway.create_user(email)
    seen: list[float] = []

    async def note_error(events: ChatEvents) -> None:
        if not seen and events.of("error"):
            seen.append(time.monotonic())

    async with timed_gateway.login(email) as browser:
        started = time.monotonic()
        result = await chat(browser, {"content": script, "model": model}, on_events=note_error)
    assert result.one("error")["error"]["code"] == "upstream_timeout"
    assert result.one("done")["status"] == "error"
    assert_on_time(seen[0] - started, setting)
    row: UsageRow = await usage_row(timed_gateway, result.one("start")["request_id"])
    assert row.error_type == "upstream_timeout"
