"""`/metrics`: Prometheus text that parses, with the series operators chart, and nothing of
the configuration."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.utils.gateway import RunningGateway
from tests.utils.streams import chat_body, stream_chat

EXPECTED = {
    "gpuchat_requests",
    "gpuchat_request_latency_seconds",
    "gpuchat_time_to_first_token_seconds",
    "gpuchat_time_per_output_token_seconds",
    "gpuchat_tokens",
    "gpuchat_active_streams",
    "gpuchat_queue_length",
    "gpuchat_queue_wait_seconds",
    "gpuchat_engine_state",
    "gpuchat_gpu_memory_used_bytes",
    "gpuchat_gpu_memory_total_bytes",
    "gpuchat_gpu_utilization_ratio",
    "gpuchat_rate_limited",
    "gpuchat_redis_fallback",
    "gpuchat_content_filtered",
}


async def test_metrics_expose_request_token_engine_and_queue_series(
    gateway: RunningGateway,
) -> None:
    async with gateway.client() as client:
        result = await stream_chat(client, chat_body("!tokens 6"))
        assert result.done
        await gateway.state.usage.flush()
        response = await client.get("/metrics", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert set(families) >= EXPECTED
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in families.values()
        for s in family.samples
    }
    assert samples[("gpuchat_requests_total", (("model", "fake"), ("status", "200")))] >= 1
    assert samples[("gpuchat_engine_state", (("engine", "fake"), ("state", "ready")))] == 1
    assert samples[("gpuchat_engine_state", (("engine", "fake"), ("state", "stopped")))] == 0
    assert samples[("gpuchat_redis_fallback", ())] == 0
    output = [
        value
        for (name, labels), value in samples.items()
        if name == "gpuchat_tokens_total" and ("direction", "output") in labels
    ]
    assert sum(output) >= 6
    ttft = [v for (n, _), v in samples.items() if n == "gpuchat_time_to_first_token_seconds_count"]
    assert sum(ttft) >= 1
    for secret in ("sqlite", "postgres", "127.0.0.1", "secret", gateway.api_key, "admin@"):
        assert secret not in response.text
