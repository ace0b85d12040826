"""An engine's own load, read from vLLM's Prometheus text."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from gpuchat.engines import load
from gpuchat.engines.load import EngineLoads, parse_vllm_metrics

# Lines as vLLM 0.32 (CPU build) writes them, two data-parallel engines.
VLLM_METRICS = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="smol"} 3.0
vllm:num_requests_running{engine="1",model_name="smol"} 1.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="smol"} 2.0
vllm:num_requests_waiting{engine="1",model_name="smol"} 0.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="smol"} 0.25
vllm:kv_cache_usage_perc{engine="1",model_name="smol"} 0.5
# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{engine="0",model_name="smol"} 1408.0
"""


def test_vllm_load_sums_engines_and_takes_the_fullest_kv_cache() -> None:
    load = parse_vllm_metrics(VLLM_METRICS, at=1.0)

    assert load is not None
    assert (load.running, load.waiting, load.kv_cache_usage) == (4, 2, 0.5)


def test_older_vllm_kv_gauge_is_read_too() -> None:
    older = VLLM_METRICS.replace("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")

    load = parse_vllm_metrics(older, at=1.0)

    assert load is not None and load.kv_cache_usage == 0.5


def test_a_server_that_is_not_vllm_reports_no_load() -> None:
    text = "# TYPE llamacpp:requests_processing gauge\nllamacpp:requests_processing 1\n"

    assert parse_vllm_metrics(text, at=1.0) is None


async def test_a_late_scrape_keeps_the_engine_polled(monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy vLLM that answers /metrics late once was taken for an engine without metrics
    and not asked again for a minute: the live view and admission lost its load."""
    monkeypatch.setattr(load, "POLL_S", 0.05)
    answers = ["ok", "late", "late", "ok"]

    async def metrics(_: web.Request) -> web.Response:
        if (answers.pop(0) if len(answers) > 1 else answers[0]) == "late":
            await asyncio.sleep(0.5)
        return web.Response(text=VLLM_METRICS)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/metrics"
    timeout = aiohttp.ClientTimeout(total=0.2)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        loads = EngineLoads(lambda: [("smol", url)], lambda: http)
        loads.start()
        try:
            seen = []
            for _ in range(40):
                await loads.changed.wait()
                seen.append(loads.get("smol") is not None)
            assert seen[-1], seen
            assert len(answers) == 1  # every scrape was made: none skipped for a minute
        finally:
            await loads.close()
            await runner.cleanup()
