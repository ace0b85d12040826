"""The real embedded llama.cpp engine, with the packaged SmolLM2-135M (about 100 MB)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gpuchat.engines.manager import EngineManager, EngineState
from gpuchat.engines.packaged import is_installed
from gpuchat.engines.profiles import ProfilesFile

pytestmark = pytest.mark.engine

MODEL = "smollm2-135m-instruct"
MODELS_DIR = Path(__file__).resolve().parents[3] / "data" / "models"  # what `make setup` installs


@pytest.fixture(scope="module")
def models_dir() -> Path:
    if not is_installed(MODEL, MODELS_DIR):
        pytest.skip(f"{MODEL} is not installed in {MODELS_DIR}: run `make setup` first")
    return MODELS_DIR


@pytest.fixture
async def manager(models_dir: Path, tmp_path: Path) -> AsyncIterator[EngineManager]:
    profiles = ProfilesFile.model_validate(
        {
            "profiles": [
                {
                    "name": "smollm2",
                    "aliases": ["default", "smollm2-135m"],
                    "engine": "llamacpp",
                    "model": f"packaged:{MODEL}",
                    "llamacpp": {"ctx": 2048, "parallel": 2},
                    "timeouts": {"start": 120},
                }
            ]
        }
    )
    engines = EngineManager(profiles, models_dir=models_dir, logs_dir=tmp_path / "logs")
    yield engines
    await engines.close()


async def stream_chat(base_url: str, model: str, prompt: str) -> tuple[str, dict[str, Any]]:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": 24,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    text, usage = "", {}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base_url}/chat/completions", json=body) as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        async for raw in response.content:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line.removeprefix("data: "))
            usage = chunk.get("usage") or usage
            text += "".join(c["delta"].get("content") or "" for c in chunk["choices"])
    return text, usage


async def test_embedded_engine_streams_an_answer_with_usage(
    manager: EngineManager, alive: Callable[[int], bool]
) -> None:
    started = time.monotonic()
    await manager.start()

    upstream = await manager.ensure_ready("default")

    print(f"SmolLM2 engine ready in {time.monotonic() - started:.1f}s")
    assert upstream.model == "smollm2"
    text, usage = await stream_chat(
        upstream.base_url, upstream.model, "What is the capital of France?"
    )
    assert text.strip()
    assert usage["completion_tokens"] > 0
    assert usage["prompt_tokens"] > 0
    pid = manager.statuses()[0].pid
    await manager.close()
    [status] = manager.statuses()
    assert status.state is EngineState.stopped
    assert pid is not None
    assert not alive(pid)


async def test_switching_between_two_real_llamacpp_profiles(
    models_dir: Path, tmp_path: Path, alive: Callable[[int], bool]
) -> None:
    def profile(name: str, ctx: int, parallel: int) -> dict[str, Any]:
        return {
            "name": name,
            "engine": "llamacpp",
            "model": f"packaged:{MODEL}",
            "llamacpp": {"ctx": ctx, "parallel": parallel},
            "timeouts": {"start": 120, "drain": 120},  # a slow CI machine: never cut it
        }

    profiles = ProfilesFile.model_validate(
        {"default": "wide", "profiles": [profile("wide", 2048, 2), profile("narrow", 1024, 1)]}
    )
    engines = EngineManager(profiles, models_dir=models_dir, logs_dir=tmp_path / "logs")
    try:
        first = await engines.acquire("default")

        async def answer_then_release() -> tuple[str, dict[str, Any]]:
            try:
                return await stream_chat(first.base_url, first.model, "Say hello.")
            finally:
                first.release()  # what relay.finish() does

        answer = asyncio.create_task(answer_then_release())
        old_pid = next(s.pid for s in engines.statuses() if s.name == "wide")

        await engines.activate("narrow")
        second = await engines.acquire("default")  # waits for the drain and the new start
        text, _ = await answer
        switched_text, usage = await stream_chat(second.base_url, second.model, "Say hello.")
        second.release()

        states = {s.name: s.state for s in engines.statuses()}
        assert text.strip()  # the stream in flight finished before the old engine stopped
        assert (second.profile.name, second.model) == ("narrow", "narrow")
        assert switched_text.strip()
        assert usage["completion_tokens"] > 0
        assert states == {"wide": EngineState.stopped, "narrow": EngineState.ready}
        assert old_pid is not None
        assert not alive(old_pid)
        assert "grace over" not in (tmp_path / "logs" / "wide.log").read_text()
        log = (tmp_path / "logs" / "narrow.log").read_text()
        assert "--ctx 1024 --parallel 1" in log  # the other profile's settings
    finally:
        await engines.close()
