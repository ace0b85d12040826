"""An engine's own load, read from vLLM's Prometheus text."""

from __future__ import annotations

from gpuchat.engines.load import parse_vllm_metrics

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
