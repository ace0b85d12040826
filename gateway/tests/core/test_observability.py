"""The request log line, prompt sampling with PII masked, and OpenTelemetry traces sent to an
OTLP collector (a small fake one here)."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import fake_profiles_yaml
from tests.utils.chat import chat
from tests.utils.gateway import LOG_FILE, RunningGateway, free_port, start_gateway
from tests.utils.streams import chat_body, stream_chat


def log_line(request_id: str, event: str = "request") -> dict[str, str]:
    for line in reversed(LOG_FILE.read_text(encoding="utf-8").splitlines()):
        if f"request_id={request_id}" in line and f" {event} " in line:
            return dict(re.findall(r"(\w+)=(\S+)", line))
    raise AssertionError(f"no {event} line for {request_id}")


async def test_request_log_line_carries_the_usage_fields(gateway: RunningGateway) -> None:
    async with gateway.client() as client:
        result = await stream_chat(client, chat_body("one two"))
    await asyncio.sleep(0.1)
    fields = log_line(result.headers["x-request-id"])
    for name in (
        "user_id",
        "model",
        "ctx_len",
        "input_tokens",
        "output_tokens",
        "ttft_ms",
        "latency_ms",
        "status_code",
    ):
        assert fields.get(name) not in (None, "None"), (name, fields)
    assert fields["model"] == "fake-model" and fields["output_tokens"] == "3"


async def test_sampled_prompts_and_answers_are_logged_with_pii_masked(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = f"sample-{secrets.token_hex(3)}@example.com"
    await gateway.create_user(email)
    monkeypatch.setattr(gateway.state.settings, "log_sample_rate", 1.0)
    secret_text = "mail hong.gildong@example.org or call 010-9876-5432"
    async with gateway.client() as client:
        api = await stream_chat(client, chat_body(secret_text))
    async with gateway.login(email) as browser:
        web_turn = await chat(browser, {"content": secret_text})
    await asyncio.sleep(0.1)
    for request_id in (api.headers["x-request-id"], web_turn.one("start")["request_id"]):
        line = next(
            line
            for line in LOG_FILE.read_text(encoding="utf-8").splitlines()
            if " sample " in line and request_id in line
        )
        assert "[email]" in line and "[phone]" in line
        assert "hong.gildong" not in line and "9876" not in line


async def test_log_has_no_sample_when_sampling_is_off(gateway: RunningGateway) -> None:
    async with gateway.client() as client:
        result = await stream_chat(client, chat_body("not sampled"))
    await asyncio.sleep(0.1)
    request_id = result.headers["x-request-id"]
    assert not any(
        " sample " in line and request_id in line
        for line in LOG_FILE.read_text(encoding="utf-8").splitlines()
    )


@pytest.fixture
async def collector() -> AsyncIterator[tuple[str, list[ExportTraceServiceRequest]]]:
    received: list[ExportTraceServiceRequest] = []

    async def traces(request: web.Request) -> web.Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        received.append(message)
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        await runner.cleanup()


async def test_traces_go_to_the_otlp_endpoint_with_the_trace_id_in_the_log(
    tmp_path: Path, collector: tuple[str, list[ExportTraceServiceRequest]]
) -> None:
    endpoint, received = collector
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(fake_profiles_yaml())
    url = f"sqlite+aiosqlite:///{tmp_path / 'gpuchat.db'}"
    async with start_gateway(
        data_dir=tmp_path, database_url=url, profiles=profiles, otlp_endpoint=endpoint
    ) as gateway:
        async with gateway.client() as client:
            result = await stream_chat(client, chat_body("!prefill 0.2 traced"))
        assert result.done
    # The gateway has shut down, which flushes its spans.
    spans = {
        span.name: span
        for message in received
        for resource in message.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    }
    assert {"request", "authenticate", "upstream"} <= set(spans)
    upstream = spans["upstream"]
    assert [event.name for event in upstream.events] == ["first_token"]
    assert upstream.trace_id == spans["request"].trace_id
    assert upstream.parent_span_id == spans["request"].span_id
    fields = log_line(result.headers["x-request-id"])
    assert fields["trace_id"] == upstream.trace_id.hex()
