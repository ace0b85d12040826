"""Limits through Redis: shared between gateways, and a Redis that dies mid-test falls back
to in-process counters (metric and log line) without making anyone wait, then recovers."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gpuchat.core.config import Settings
from gpuchat.core.errors import GatewayError
from gpuchat.core.security import Principal
from gpuchat.services.limits.quotas import UsageLimits
from gpuchat.services.limits.store import LimitStore
from tests.conftest import fake_profiles_yaml
from tests.utils.gateway import RunningGateway, free_port, start_gateway
from tests.utils.streams import chat_body

REDIS_URL = os.environ.get("GPUCHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class RedisServer:
    """A redis-server of the test's own, to stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if (
                subprocess.run(
                    ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, check=False
                ).stdout.strip()
                == b"PONG"
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def user(limits: dict[str, int] | None = None) -> Principal:
    return Principal(secrets.randbelow(10**9) + 10**6, "x@example.com", "user", limits=limits)


async def test_limits_are_shared_between_gateways_through_redis(gateway: RunningGateway) -> None:
    settings = Settings(user_requests_per_minute=2)
    one = UsageLimits(settings, LimitStore(REDIS_URL), gateway.state.sessions)
    two = UsageLimits(settings, LimitStore(REDIS_URL), gateway.state.sessions)
    caller = user()
    await one.admit(caller)
    await two.admit(caller)
    with pytest.raises(GatewayError) as refused:
        await one.admit(caller)
    assert refused.value.status == 429


async def test_redis_down_falls_back_without_waiting_and_recovers(
    gateway: RunningGateway, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gpuchat.services.limits.store.OPEN_SECONDS", 0.5)
    flags: list[bool] = []
    store = LimitStore(redis_server.url, on_fallback=flags.append)
    limits = UsageLimits(Settings(user_requests_per_minute=100), store, gateway.state.sessions)
    caller = user()
    await limits.admit(caller)
    assert not store.fallback
    redis_server.stop()
    started = time.monotonic()
    for _ in range(5):
        await limits.admit(caller)
    assert time.monotonic() - started < 2
    assert store.fallback and flags == [True]
    redis_server.start()
    await asyncio.sleep(0.6)
    await limits.admit(caller)
    assert not store.fallback and flags == [True, False]


@pytest.fixture
async def redis_gateway(
    tmp_path: Path, redis_server: RedisServer
) -> AsyncIterator[tuple[RunningGateway, RedisServer]]:
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(fake_profiles_yaml())
    url = f"sqlite+aiosqlite:///{tmp_path / 'gpuchat.db'}"
    async with start_gateway(
        data_dir=tmp_path,
        database_url=url,
        profiles=profiles,
        redis_url=redis_server.url,
        user_requests_per_minute=1000,
    ) as running:
        yield running, redis_server


def fallback_gauge(text: str) -> float:
    for family in text_string_to_metric_families(text):
        if family.name == "gpuchat_redis_fallback":
            return family.samples[0].value
    raise AssertionError("no gpuchat_redis_fallback")


async def test_gateway_keeps_serving_when_redis_stops(
    redis_gateway: tuple[RunningGateway, RedisServer],
) -> None:
    gateway, redis = redis_gateway
    async with gateway.client() as client:
        assert (
            await client.post("/v1/chat/completions", json=chat_body("hi", stream=False))
        ).status_code == 200
        assert fallback_gauge((await client.get("/metrics")).text) == 0
        redis.stop()
        for _ in range(3):
            started = time.monotonic()
            response = await client.post("/v1/chat/completions", json=chat_body("hi", stream=False))
            assert response.status_code == 200
            assert time.monotonic() - started < 2
        assert fallback_gauge((await client.get("/metrics")).text) == 1


def zcard(redis: RedisServer, key: str) -> int:
    out = subprocess.run(
        ["redis-cli", "-p", str(redis.port), "zcard", key], capture_output=True, check=True
    )
    return int(out.stdout)


async def test_engine_slots_are_held_in_redis_while_answering_and_given_back(
    redis_gateway: tuple[RunningGateway, RedisServer],
) -> None:
    gateway, redis = redis_gateway
    async with gateway.client() as client:
        slow = asyncio.create_task(
            client.post("/v1/chat/completions", json=chat_body("!slow 1", stream=False))
        )
        await asyncio.sleep(0.4)
        assert zcard(redis, "gpuchat:slots:fake") == 1  # the other replicas see it taken
        assert (await slow).status_code == 200
        streamed = await client.post("/v1/chat/completions", json=chat_body("hi"))
        assert streamed.status_code == 200 and "[DONE]" in streamed.text
    await asyncio.sleep(0.3)  # the slot goes back in the background
    assert zcard(redis, "gpuchat:slots:fake") == 0
