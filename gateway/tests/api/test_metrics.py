"""`/metrics`: Prometheus text that parses, with the series operators chart, and nothing of
the configuration."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from tests.conftest import fake_profiles_yaml
from tests.utils.gateway import RunningGateway, start_gateway
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


@pytest.fixture(scope="module")
async def production(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningGateway]:
    data_dir = tmp_path_factory.mktemp("metrics-production")
    profiles = data_dir / "profiles.yaml"
    profiles.write_text(fake_profiles_yaml())
    async with start_gateway(
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'gpuchat.db'}",
        profiles=profiles,
        env="production",
        secret_key=SecretStr(secrets.token_urlsafe(48)),
    ) as running:
        yield running


async def test_production_metrics_need_the_token_or_a_trusted_source(
    production: RunningGateway,
) -> None:
    """Per-user counters are not public in production: without a token or a trusted
    source nobody reads them; with either, Prometheus does."""
    settings = production.state.settings
    token = secrets.token_urlsafe(32)
    async with httpx.AsyncClient(base_url=production.url) as anonymous:
        closed = await anonymous.get("/metrics")
        production.state.settings = settings.model_copy(update={"metrics_token": SecretStr(token)})
        wrong = await anonymous.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await anonymous.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        production.state.settings = settings.model_copy(update={"metrics_sources": ["127.0.0.0/8"]})
        trusted = await anonymous.get("/metrics")
        spoofed = settings.model_copy(
            update={"metrics_sources": ["10.0.0.0/8"], "trusted_proxies": ["127.0.0.1"]}
        )
        production.state.settings = spoofed
        forwarded = await anonymous.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"})
    production.state.settings = settings
    assert closed.status_code == 403 and closed.json()["error"]["code"] == "metrics_forbidden"
    assert "gpuchat_" not in closed.text
    assert wrong.status_code == 401
    assert right.status_code == trusted.status_code == 200
    assert "gpuchat_requests" in right.text
    assert forwarded.status_code == 403  # the socket peer counts, not a header
