"""Real vLLM (its CPU build, from `make vllm`) behind the gateway: the packaged SmolLM2 exported
for vLLM, started by the supervisor, reached through the web chat and the OpenAI API.

What is checked here is what the fake upstream cannot show: vLLM's own refusals, its start
stages, its cancellation, its prefix cache and its metrics.

vLLM runs at the lowest CPU priority here (NICE_VLLM). Time bounds are generous (on CI, vLLM's
API server once took 10 s to answer `/metrics`): a cancellation is shown by the generation
stopping long before the 3,000 tokens asked for, and staying stopped.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gpuchat.engines import hf_export
from gpuchat.engines.control import EngineState
from tests.utils.chat import ChatEvents, chat
from tests.utils.gateway import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    NICE_VLLM,
    VLLM_PYTHON,
    RunningGateway,
    packaged_gateway,
)

REPO = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO / "data" / "models"

pytestmark = pytest.mark.vllm

# `limits.max_tokens` above the context on purpose: what a profile written for a GPU (or
# left at the default 4096) does on a smaller context. vLLM refuses such a max_tokens.
PROFILES = """
default: smol
profiles:
  - name: smol
    aliases: [default, smollm2]
    engine: vllm
    model: packaged:smollm2-135m-instruct
    vllm:
      max_model_len: 4096
      dtype: bfloat16
      cpu_kvcache_space: 1
      enable_prefix_caching: true
    max_concurrency: 4
    limits: {max_tokens: 8192}
    timeouts: {start: 900, first_token: 300}
"""
CONTEXT = 4096
# About 10 tokens each for SmolLM2's tokenizer, 45 bytes (an estimate of 23 tokens).
SENTENCE = "The quick brown fox jumps over the lazy dog. "
LONG_ANSWER = "Count from 1 to 2000, one number per line, and do not stop early."


@dataclass
class VllmGateway:
    gateway: RunningGateway
    stages: list[tuple[str, float]] = field(default_factory=list)  # (phase, progress) seen


@pytest.fixture(scope="module")
async def vllm(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[VllmGateway]:
    if not VLLM_PYTHON.is_file():
        pytest.fail(f"no vLLM environment at {VLLM_PYTHON.parent.parent}: run `make vllm`")
    if not hf_export.is_exported("smollm2-135m-instruct", MODELS_DIR):
        pytest.fail("smollm2-135m-instruct is not exported for vLLM: run `make vllm`")
    data_dir = tmp_path_factory.mktemp("vllm")
    async with packaged_gateway(
        data_dir, PROFILES, wait_ready=False, vllm_command=NICE_VLLM
    ) as running:
        result = VllmGateway(running)
        await _watch_start(result)
        yield result


async def _watch_start(vllm: VllmGateway) -> None:
    """Record the stages the admin page shows while vLLM starts, until it is ready."""
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        [status] = vllm.gateway.state.engines.statuses()
        if status.state is EngineState.failed:
            log = (vllm.gateway.state.settings.logs_dir / "smol.log").read_text()[-3000:]
            pytest.fail(f"vLLM did not start: {status.last_error}\n{log}")
        if status.phase and (not vllm.stages or vllm.stages[-1][0] != status.phase):
            vllm.stages.append((status.phase, status.progress or 0.0))
        if status.state is EngineState.ready:
            return
        await asyncio.sleep(0.1)
    pytest.fail("vLLM was not ready within 15 minutes")


async def engine_metrics(vllm: VllmGateway) -> dict[str, float]:
    """vLLM's own counters and gauges, read from its /metrics (summed over labels)."""
    upstream = await vllm.gateway.state.engines.ensure_ready("smol")
    root = upstream.base_url.removesuffix("/v1")
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{root}/metrics")).text
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("vllm:") and not sample.labels.get("le"):
                values[sample.name] = values.get(sample.name, 0.0) + sample.value
    return values


async def generation_ends(vllm: VllmGateway, *, within: float = 15.0) -> bool:
    """True when vLLM runs no request within `within` seconds and then generates no more.
    (The streams stopped here ask for 3,000 tokens: a minute at least, uncancelled.)"""
    deadline = time.monotonic() + within
    while (await engine_metrics(vllm))["vllm:num_requests_running"] > 0:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    before = (await engine_metrics(vllm))["vllm:generation_tokens_total"]
    await asyncio.sleep(0.5)
    return (await engine_metrics(vllm))["vllm:generation_tokens_total"] == before


async def test_vllm_start_shows_its_real_stages(vllm: VllmGateway) -> None:
    phases = [phase for phase, _ in vllm.stages]
    progress = [value for _, value in vllm.stages]

    assert phases[0] in ("starting", "process up")
    for stage in ("process up", "compiling and warming up", "ready"):
        assert stage in phases, phases
    assert {"loading weights", "weights loaded"} & set(phases), phases
    assert {"allocating the KV cache", "engine initialised", "starting server"} & set(phases)
    assert phases[-1] == "ready"
    assert progress == sorted(progress)  # never backwards


async def test_web_chat_on_vllm_answers_when_the_profile_cap_exceeds_the_context(
    vllm: VllmGateway,
) -> None:
    """The web chat sent the profile's max_tokens (8192 > max_model_len 4096): vLLM refused
    every turn with `max_tokens=8192 cannot be greater than max_model_len=4096`."""
    async with vllm.gateway.login(ADMIN_EMAIL, ADMIN_PASSWORD) as browser:
        turn = await chat(browser, {"content": "Name three colours.", "temperature": 0})
    assert turn.one("done")["status"] == "complete", turn.events
    assert turn.text.strip()
    assert turn.one("usage")["output_tokens"] > 0


async def test_openai_api_max_tokens_above_the_context_is_capped_not_refused(
    vllm: VllmGateway,
) -> None:
    async with vllm.gateway.client() as client:
        response = await client.post(
            "/v1/chat/completions",
            json={
                "model": "smollm2",
                "messages": [{"role": "user", "content": "Say hello."}],
                "max_tokens": 100_000,
                "temperature": 0,
            },
        )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"]


async def test_conversation_longer_than_the_context_is_trimmed_not_refused(
    vllm: VllmGateway,
) -> None:
    long_text = SENTENCE * 160  # about 1,600 tokens
    async with vllm.gateway.login(ADMIN_EMAIL, ADMIN_PASSWORD) as browser:
        turns: list[ChatEvents] = []
        conversation = None
        for n in range(3):
            body = {"content": f"Part {n}: {long_text}", "max_tokens": 16, "temperature": 0}
            if conversation is not None:
                body["conversation_id"] = conversation
            turns.append(await chat(browser, body))
            conversation = turns[0].one("start")["conversation_id"]
    assert [t.one("done")["status"] for t in turns] == ["complete"] * 3, turns[-1].events
    assert turns[0].one("start")["trimmed"] == 0
    assert turns[-1].one("start")["trimmed"] > 0
    assert turns[-1].one("usage")["input_tokens"] < CONTEXT


async def test_turn_two_is_served_from_vllms_prefix_cache(vllm: VllmGateway) -> None:
    history = " ".join(f"Fact {n}: the number {n} squared is {n * n}." for n in range(110))
    async with vllm.gateway.login(ADMIN_EMAIL, ADMIN_PASSWORD) as browser:
        first = await chat(browser, {"content": history, "max_tokens": 24, "temperature": 0})
        prompt_tokens = first.one("usage")["input_tokens"]
        before = await engine_metrics(vllm)
        second = await chat(
            browser,
            {
                "conversation_id": first.one("start")["conversation_id"],
                "content": "Which fact was the last one?",
                "max_tokens": 24,
                "temperature": 0,
            },
        )
        after = await engine_metrics(vllm)
    assert second.one("done")["status"] == "complete"
    assert prompt_tokens >= 1400
    hits = after["vllm:prefix_cache_hits_total"] - before["vllm:prefix_cache_hits_total"]
    assert hits >= 0.9 * prompt_tokens, (hits, prompt_tokens)


@dataclass
class OpenStream:
    response: httpx.Response
    lines: AsyncIterator[str]  # kept: dropping the iterator would close the stream

    async def read(self, chunks: int) -> None:
        while chunks:
            chunks -= (await anext(self.lines)).startswith("data: ")


async def _long_stream(client: httpx.AsyncClient) -> OpenStream:
    request = client.build_request(
        "POST",
        "/v1/chat/completions",
        json={
            "model": "smollm2",
            "messages": [{"role": "user", "content": LONG_ANSWER}],
            "max_tokens": 3000,
            "ignore_eos": True,  # vLLM's own field: a stream that would run for minutes
            "stream": True,
        },
    )
    response = await client.send(request, stream=True)
    assert response.status_code == 200
    stream = OpenStream(response, response.aiter_lines())
    await stream.read(5)
    return stream


async def test_client_leaving_mid_stream_ends_the_generation_in_vllm(vllm: VllmGateway) -> None:
    async with vllm.gateway.client() as client:
        stream = await _long_stream(client)
        await asyncio.sleep(1)
        await stream.read(5)  # still streaming a second later
        assert (await engine_metrics(vllm))["vllm:num_requests_running"] == 1
        await stream.response.aclose()
    assert await generation_ends(vllm)


async def test_stop_from_the_web_chat_ends_the_generation_in_vllm(vllm: VllmGateway) -> None:
    stops: list[int] = []

    async def stop_after_three(events: ChatEvents) -> None:
        if len(events.of("delta")) >= 3 and not stops:
            request_id = events.one("start")["request_id"]
            stops.append((await browser.post(f"/api/chat/{request_id}/stop")).status_code)

    async with vllm.gateway.login(ADMIN_EMAIL, ADMIN_PASSWORD) as browser:
        turn = await chat(
            browser, {"content": LONG_ANSWER, "max_tokens": 3000}, on_events=stop_after_three
        )
    assert stops == [204]
    assert turn.one("done")["status"] == "interrupted"
    assert await generation_ends(vllm)


async def test_admin_stop_ends_the_generation_and_the_live_view_shows_vllms_load(
    vllm: VllmGateway,
) -> None:
    async with (
        vllm.gateway.client() as client,
        vllm.gateway.login(ADMIN_EMAIL, ADMIN_PASSWORD) as admin,
    ):
        stream = await _long_stream(client)
        live = await _live_with_load(admin, stream)
        metrics = (await admin.get("/metrics")).text
        [engine] = live["engines"]
        [listed] = live["streams"]
        stopped = await admin.post(f"/api/admin/streams/{listed['request_id']}/stop")
        ended = await generation_ends(vllm)
        tail = [line async for line in stream.lines]
    assert any('"stopped_by_admin"' in line for line in tail), tail[-3:]
    assert engine["load"]["running"] == 1 and engine["load"]["waiting"] == 0
    assert 0 < engine["load"]["kv_cache_usage"] < 1
    assert 'gpuchat_engine_requests_running{engine="smol"} 1.0' in metrics
    assert 'gpuchat_engine_requests_waiting{engine="smol"} 0.0' in metrics
    assert 'gpuchat_engine_kv_cache_usage_ratio{engine="smol"}' in metrics
    assert stopped.status_code in (200, 202, 204)
    assert ended


async def _live_with_load(admin: httpx.AsyncClient, stream: OpenStream) -> dict[str, Any]:
    """The live view once vLLM's load (scraped once a second) shows the stream running."""
    deadline = time.monotonic() + 15
    while True:
        await stream.read(1)
        live: dict[str, Any] = (await admin.get("/api/admin/live")).json()
        load = live["engines"][0]["load"]
        if (load is not None and load["running"] > 0) or time.monotonic() > deadline:
            return live
        await asyncio.sleep(0.5)


async def test_vllms_log_is_shown_and_a_crashed_vllm_is_restarted(vllm: VllmGateway) -> None:
    """Last in this module: it kills the engine (vLLM's API server and its engine core)."""
    async with vllm.gateway.login(ADMIN_EMAIL, ADMIN_PASSWORD) as admin:
        logs = (await admin.get("/api/admin/engines/smol/logs", params={"tail": 5000})).json()
        [before] = vllm.gateway.state.engines.statuses()
        assert before.pid is not None
        os.killpg(before.pid, signal.SIGKILL)  # its whole process group, as an OOM kill would

        deadline = time.monotonic() + 900
        seen: set[str] = set()
        while time.monotonic() < deadline:
            [status] = vllm.gateway.state.engines.statuses()
            seen.add(status.state.value)
            if status.state is EngineState.ready and status.pid != before.pid:
                break
            await asyncio.sleep(0.5)
        turn = await chat(admin, {"content": "Say hello.", "max_tokens": 16})

    text = "\n".join(logs["lines"])
    assert "Starting vLLM server" in text and "ready" in text
    assert {"failed", "starting"} & seen, seen
    assert status.state is EngineState.ready and status.pid != before.pid
    assert turn.one("done")["status"] == "complete"
