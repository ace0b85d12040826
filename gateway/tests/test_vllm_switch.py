"""A switch between two real vLLM engines, run by `gpuchat supervisor` in its own process (as on
a GPU host), while requests stream: the old engine drains, nothing is lost, requests sent
during the switch are served by the new model, and the switch time is shown. Then the new
profile's policy (its sampling defaults and admin system prompt) as real vLLM receives it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from gpuchat.engines import hf_export
from tests.utils import processes
from tests.utils.gateway import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    NICE_VLLM,
    RunningGateway,
    free_port,
    start_gateway,
)

REPO = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO / "data" / "models"
SECRET = "supervisor-secret-for-the-vllm-switch-test"

pytestmark = pytest.mark.vllm

PROFILES = """
default: smol
profiles:
  - name: smol
    aliases: [default]
    engine: vllm
    model: packaged:smollm2-135m-instruct
    vllm: {max_model_len: 4096, dtype: bfloat16, cpu_kvcache_space: 1}
    max_concurrency: 8
    timeouts: {start: 900, drain: 120}
  - name: qwen
    engine: vllm
    model: packaged:qwen2.5-coder-0.5b-instruct
    vllm: {max_model_len: 2048, dtype: bfloat16, cpu_kvcache_space: 1}
    max_concurrency: 8
    timeouts: {start: 900, drain: 120}
    defaults: {max_tokens: 9, temperature: 0.3, top_p: 0.9, repetition_penalty: 1.1}
    system_prompt: "You are a geography teacher."
"""
POLICY_PROMPT = "You are a geography teacher."
QUESTION = [{"role": "user", "content": "Name ten countries in Europe, one per line."}]


@pytest.fixture(scope="module")
def supervisor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`gpuchat supervisor` as its own process; its URL and data directory."""
    for name in ("smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"):
        if not hf_export.is_exported(name, MODELS_DIR):
            pytest.fail(f"{name} is not exported for vLLM: run `make vllm`")
    data_dir = tmp_path_factory.mktemp("vllm-switch")
    (data_dir / "models").symlink_to(MODELS_DIR)
    profiles = data_dir / "profiles.yaml"
    profiles.write_text(PROFILES)
    port = free_port()
    env = {
        **os.environ,
        "GPUCHAT_DATA_DIR": str(data_dir),
        "GPUCHAT_PROFILES": str(profiles),
        "GPUCHAT_SUPERVISOR_SECRET": SECRET,
        "GPUCHAT_VLLM_COMMAND": NICE_VLLM,  # the gateway in this process keeps its CPU
    }
    argv = [sys.executable, "-m", "gpuchat", "supervisor", "--host", "127.0.0.1"]
    child = subprocess.Popen([*argv, "--port", str(port)], env=env, start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}", data_dir
    finally:
        processes.stop(child)


@pytest.fixture(scope="module")
async def gateway(supervisor: tuple[str, Path]) -> AsyncIterator[RunningGateway]:
    url, data_dir = supervisor
    async with start_gateway(
        data_dir=data_dir / "gateway",
        database_url=f"sqlite+aiosqlite:///{data_dir / 'db.sqlite'}",
        profiles=data_dir / "profiles.yaml",
        supervisor_url=url,
        supervisor_secret=SecretStr(SECRET),
    ) as running:
        yield running


async def _stream(
    client: httpx.AsyncClient, model: str, started: asyncio.Event
) -> dict[str, object]:
    """One streamed answer; what the client finally holds."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Write a short poem about the sea."}],
        "max_tokens": 120,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    text, finish, served_by, error = "", None, None, None
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            started.set()
            chunk = httpx.Response(200, content=line[6:]).json()
            error = chunk.get("error") or error
            served_by = chunk.get("model") or served_by
            for choice in chunk.get("choices") or []:
                text += choice["delta"].get("content") or ""
                finish = choice.get("finish_reason") or finish
    return {
        "status": response.status_code,
        "text": text,
        "finish": finish,
        "error": error,
        "model": served_by,
    }


async def test_switch_between_two_vllm_engines_drains_and_loses_nothing(
    gateway: RunningGateway,
) -> None:
    async with (
        gateway.client(timeout=900) as client,
        gateway.login(ADMIN_EMAIL, ADMIN_PASSWORD) as admin,
    ):
        started = [asyncio.Event() for _ in range(3)]
        before = [asyncio.create_task(_stream(client, "smol", s)) for s in started]
        await asyncio.wait_for(asyncio.gather(*(s.wait() for s in started)), 120)

        switched = await admin.post("/api/admin/profiles/qwen/activate")
        during = [
            asyncio.create_task(_stream(client, "default", asyncio.Event())) for _ in range(2)
        ]
        old = await asyncio.gather(*before)
        new = await asyncio.gather(*during)
        profiles = (await admin.get("/api/admin/profiles")).json()

    assert switched.status_code == 202, switched.text
    for answer in old:  # the streams in flight finished on the old engine
        assert answer["status"] == 200 and answer["error"] is None, answer
        assert answer["finish"] in ("stop", "length") and answer["text"], answer
        assert answer["model"] == "smol"
    for answer in new:  # sent during the switch: served by the new engine
        assert answer["status"] == 200 and answer["error"] is None, answer
        assert answer["finish"] in ("stop", "length") and answer["text"], answer
        assert answer["model"] == "qwen"
    by_name = {p["name"]: p for p in profiles["data"]}
    assert by_name["qwen"]["state"] == "ready" and by_name["qwen"]["active"]
    assert by_name["smol"]["state"] == "stopped"
    assert by_name["qwen"]["switch_s"] > 0


async def test_the_profiles_defaults_and_system_prompt_reach_real_vllm(
    gateway: RunningGateway,
) -> None:
    async with gateway.login(ADMIN_EMAIL, ADMIN_PASSWORD) as admin:
        await _active(admin, "qwen")  # already, after the switch test
    engine = await gateway.upstream_url("qwen")
    async with gateway.client(timeout=300) as client, httpx.AsyncClient(timeout=300) as direct:
        answer = (
            await client.post("/v1/chat/completions", json={"model": "qwen", "messages": QUESTION})
        ).json()
        served = (await direct.get(f"{engine}/v1/models")).json()["data"][0]["id"]

        async def prompt_tokens(messages: list[dict[str, str]]) -> int:
            body = {"model": served, "messages": messages, "max_tokens": 1}
            sent = await direct.post(f"{engine}/v1/chat/completions", json=body)
            return int(sent.json()["usage"]["prompt_tokens"])

        with_prompt = await prompt_tokens([{"role": "system", "content": POLICY_PROMPT}, *QUESTION])
        without = await prompt_tokens(QUESTION)
    # max_tokens unset: the profile's 9 bounded the answer.
    assert answer["choices"][0]["finish_reason"] == "length", answer
    assert answer["usage"]["completion_tokens"] == 9, answer
    # The admin's system prompt went first: vLLM counted exactly that conversation (without
    # one, Qwen's chat template puts in its own, longer default).
    assert answer["usage"]["prompt_tokens"] == with_prompt != without, (answer, without)


async def _active(admin: httpx.AsyncClient, name: str) -> None:
    """Switch to `name` unless it is already the active, ready profile, and wait for it."""
    for _ in range(600):
        profiles = {p["name"]: p for p in (await admin.get("/api/admin/profiles")).json()["data"]}
        if profiles[name]["active"] and profiles[name]["state"] == "ready":
            return
        if not profiles[name]["active"]:
            await admin.post(f"/api/admin/profiles/{name}/activate")
        await asyncio.sleep(1)
    pytest.fail(f"{name} did not become the active, ready profile")
