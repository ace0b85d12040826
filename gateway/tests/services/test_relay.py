"""The streaming relay against the scripted fake upstream (tests/fakes/upstream.py)."""

from __future__ import annotations

import asyncio
import secrets
import time

import httpx
import pytest
from sqlalchemy import or_, select

from gpuchat.db.models import UsageRow
from tests.utils.gateway import RunningGateway
from tests.utils.streams import chat_body, stream_chat


async def usage_row(gateway: RunningGateway, request_id: str) -> UsageRow:
    """The row of the gateway's id (`X-Request-Id` of the response) or of the id the test
    sent as its own `X-Request-Id` (kept as `client_request_id`)."""
    await gateway.state.usage.flush()
    named = or_(UsageRow.request_id == request_id, UsageRow.client_request_id == request_id)
    async with gateway.state.sessions() as session:
        row = await session.scalar(select(UsageRow).where(named))
    assert row is not None, f"no usage row for {request_id}"
    return row


async def upstream_record(gateway: RunningGateway, request_id: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=await gateway.upstream_url()) as fake:
        response = await fake.get(f"/_requests/{request_id}")
    response.raise_for_status()
    record: dict[str, object] = response.json()
    return record


async def wait_upstream_closed(
    gateway: RunningGateway, request_id: str, within: float = 2.0
) -> float:
    """Seconds until the fake upstream saw the gateway close the request's connection."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        record = await upstream_record(gateway, request_id)
        if "closed_at" in record:
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    pytest.fail(f"upstream connection for {request_id} still open after {within}s")


def new_id() -> str:
    return "test-" + secrets.token_hex(8)


async def test_relay_streams_upstream_text_and_writes_usage_row(gateway: RunningGateway) -> None:
    async with gateway.client() as client:
        result = await stream_chat(client, chat_body("안녕하세요 world 100%"))
    assert result.status == 200
    assert result.headers["content-type"].startswith("text/event-stream")
    assert result.headers["x-accel-buffering"] == "no"
    assert result.text == "echo: 안녕하세요 world 100%"
    assert result.done and not result.errors
    assert result.usage_chunks == []  # not asked for, so stripped
    row = await usage_row(gateway, result.headers["x-request-id"])
    assert (row.status_code, row.client, row.model_alias, row.profile) == (
        200,
        "api",
        "fake-model",
        "fake",
    )
    assert row.output_tokens == 4 and row.input_tokens == 3 and not row.tokens_estimated
    assert row.ttft_ms is not None and row.latency_ms is not None and row.latency_ms >= row.ttft_ms


async def test_relay_asks_upstream_for_usage_and_keeps_it_when_client_asks(
    gateway: RunningGateway,
) -> None:
    async with gateway.client() as client:
        result = await stream_chat(
            client, chat_body("hi", stream_options={"include_usage": True}, max_tokens=10**9)
        )
    assert result.usage_chunks[-1]["usage"]["completion_tokens"] == 2
    assert result.done
    async with httpx.AsyncClient(base_url=await gateway.upstream_url()) as fake:
        sent = (await fake.get("/_last")).json()
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["max_tokens"] == 512  # capped by the profile
    assert sent["model"] == "fake"  # the engine's name, not the alias


async def test_relay_passes_engine_fields_capped_and_refuses_others(
    gateway: RunningGateway,
) -> None:
    """Engine sampling fields reach the engine; a length field cannot lift the caps
    (`n_predict` would override `max_tokens` in llama.cpp); anything unknown is a 400."""
    async with gateway.client() as client:
        ok = await client.post(
            "/v1/chat/completions",
            json=chat_body(
                "x", stream=False, top_k=7, repetition_penalty=1.1, max_tokens=5, n_predict=700
            ),
        )
        unknown = await client.post(
            "/v1/chat/completions", json=chat_body("x", stream=False, made_up_field=1)
        )
        denied = await client.post(
            "/v1/chat/completions", json=chat_body("x", api_base="http://evil.example")
        )
        template = await client.post(
            "/v1/chat/completions", json=chat_body("x", chat_template="{{ x }}")
        )
    assert ok.status_code == 200
    async with httpx.AsyncClient(base_url=await gateway.upstream_url()) as fake:
        sent = (await fake.get("/_last")).json()
    assert sent["top_k"] == 7 and sent["repetition_penalty"] == 1.1
    assert sent["max_tokens"] == 5 and "n_predict" not in sent
    for response, field in (
        (denied, "api_base"),
        (template, "chat_template"),
        (unknown, "made_up_field"),
    ):
        assert response.status_code == 400
        assert response.json()["error"]["param"] == field


async def test_relay_non_stream_returns_upstream_json_and_usage_row(
    gateway: RunningGateway,
) -> None:
    async with gateway.client() as client:
        response = await client.post(
            "/v1/chat/completions", json=chat_body("one two", stream=False)
        )
    assert response.status_code == 200
    body = response.json()
    assert body["choices"][0]["message"]["content"] == "echo: one two"
    row = await usage_row(gateway, response.headers["x-request-id"])
    assert (row.status_code, row.output_tokens, row.input_tokens) == (200, 3, 2)


@pytest.mark.parametrize("stream", [True, False])
async def test_relay_upstream_4xx_passes_through_as_envelope(
    gateway: RunningGateway, stream: bool
) -> None:
    async with gateway.client() as client:
        response = await client.post(
            "/v1/chat/completions", json=chat_body("!reject 400", stream=stream)
        )
    assert response.status_code == 400
    body = response.json()
    assert body["source"] == "upstream"
    assert body["error"]["message"] == "fake reject 400"
    assert body["error"]["type"] == "invalid_request_error"
    row = await usage_row(gateway, response.headers["x-request-id"])
    assert row.status_code == 400


async def test_relay_upstream_500_before_first_token_is_502(gateway: RunningGateway) -> None:
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body("!fail 500"))
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "server_error"
    assert response.headers["retry-after"]
    assert (await usage_row(gateway, response.headers["x-request-id"])).status_code == 502


async def test_relay_upstream_dies_mid_stream_gives_error_frame_without_done(
    gateway: RunningGateway,
) -> None:
    async with gateway.client() as client:
        result = await stream_chat(client, chat_body("!die 3 !tokens 10"))
    assert result.status == 200
    assert result.text == "t0 t1 t2"
    assert not result.done
    assert len(result.errors) == 1 and result.frames[-1].startswith('data: {"error"')
    row = await usage_row(gateway, result.headers["x-request-id"])
    assert (row.status_code, row.error_type) == (502, "upstream_broken")


async def test_relay_upstream_error_frame_ends_stream_without_done(gateway: RunningGateway) -> None:
    async with gateway.client() as client:
        result = await stream_chat(client, chat_body("!error-frame 2 !tokens 5"))
    assert result.text == "t0 t1"
    assert not result.done
    assert result.errors[0]["source"] == "upstream"
    assert result.errors[0]["error"]["message"] == "fake engine error"


async def test_relay_stall_ends_with_idle_timeout_error(gateway: RunningGateway) -> None:
    request_id = new_id()
    started = time.monotonic()
    async with gateway.client() as client:
        result = await stream_chat(
            client, chat_body("!stall 2 !tokens 5"), headers={"X-Request-Id": request_id}
        )
    elapsed = time.monotonic() - started
    assert result.text == "t0 t1"
    assert not result.done
    assert result.errors[0]["error"]["code"] == "upstream_timeout"
    assert elapsed < 5  # idle timeout is 1.5 s in the test profile
    await wait_upstream_closed(gateway, request_id)
    assert (await usage_row(gateway, request_id)).status_code == 504


async def test_relay_first_token_timeout(gateway: RunningGateway) -> None:
    """No status line in time: a real 504 (nothing was streamed yet), when it is due."""
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body("!slow 10"))
    assert response.status_code == 504
    error = response.json()["error"]
    assert error["code"] == "upstream_timeout" and "first token" in error["message"]


async def _disconnect_after(
    gateway: RunningGateway, body: dict[str, object], request_id: str, *, chunks: int
) -> None:
    """Read `chunks` raw chunks of the answer (0: not even the status line), then hang up."""
    async with gateway.client() as client:
        if chunks == 0:
            with pytest.raises(httpx.ReadTimeout):
                await client.post(
                    "/v1/chat/completions",
                    json=body,
                    headers={"X-Request-Id": request_id},
                    timeout=0.3,
                )
            return
        async with client.stream(
            "POST", "/v1/chat/completions", json=body, headers={"X-Request-Id": request_id}
        ) as response:
            seen = 0
            async for _ in response.aiter_raw():
                seen += 1
                if seen >= chunks:
                    return


@pytest.mark.parametrize(
    ("script", "chunks"),
    [("!slow 2.5", 0), ("!prefill 2.5", 1)],
    ids=["before-status-line", "during-prefill"],
)
async def test_relay_client_disconnect_before_first_token_closes_upstream(
    gateway: RunningGateway, script: str, chunks: int
) -> None:
    request_id = new_id()
    await _disconnect_after(gateway, chat_body(script), request_id, chunks=chunks)
    assert await wait_upstream_closed(gateway, request_id) < 2
    row = await usage_row(gateway, request_id)
    assert (row.status_code, row.ttft_ms) == (499, None)


async def test_relay_client_disconnect_mid_stream_closes_upstream(gateway: RunningGateway) -> None:
    request_id = new_id()
    await _disconnect_after(gateway, chat_body("!tokens 200 !gap 0.05"), request_id, chunks=3)
    assert await wait_upstream_closed(gateway, request_id) < 2
    record = await upstream_record(gateway, request_id)
    assert record["completed"] is False
    row = await usage_row(gateway, request_id)
    assert (row.status_code, row.error_type) == (499, "client_closed")


async def test_relay_client_disconnect_on_non_stream_request_closes_upstream(
    gateway: RunningGateway,
) -> None:
    request_id = new_id()
    async with gateway.client() as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(
                "/v1/chat/completions",
                json=chat_body("!slow 2.5", stream=False),
                headers={"X-Request-Id": request_id},
                timeout=0.4,
            )
    assert await wait_upstream_closed(gateway, request_id) < 2


async def test_relay_unreachable_engine_is_502(gateway: RunningGateway) -> None:
    async with gateway.client() as client:
        response = await client.post(
            "/v1/chat/completions", json=chat_body("x", model="unreachable")
        )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unreachable"


async def test_relay_many_concurrent_streams_each_get_their_text(gateway: RunningGateway) -> None:
    async with gateway.client() as client:
        results = await asyncio.gather(
            *(
                stream_chat(client, chat_body(f"!tokens 20 !gap 0.005 !client-{n}"))
                for n in range(30)
            )
        )
    assert all(r.done and r.text == " ".join(f"t{i}" for i in range(20)) for r in results)
    ids = {r.headers["x-request-id"] for r in results}
    assert len(ids) == 30
    for request_id in list(ids)[:3]:
        assert (await usage_row(gateway, request_id)).status_code == 200


async def test_relay_client_request_id_is_a_label_not_the_usage_key(
    gateway: RunningGateway,
) -> None:
    """Four requests sending the same X-Request-Id are four usage rows (reports, CSV and
    quotas count all four), each named by the gateway and labelled with the client's id."""
    sent = new_id()
    async with gateway.client() as client:
        replies = [
            await client.post(
                "/v1/chat/completions",
                json=chat_body("hi", stream=stream),
                headers={"X-Request-Id": sent},
            )
            for stream in (False, True, False, True)
        ]
    assert all(r.status_code == 200 for r in replies)
    ids = [r.headers["x-request-id"] for r in replies]
    assert len(set(ids)) == 4 and sent not in ids
    await gateway.state.usage.flush()
    async with gateway.state.sessions() as session:
        rows = (
            await session.scalars(select(UsageRow).where(UsageRow.client_request_id == sent))
        ).all()
    assert sorted(r.request_id for r in rows) == sorted(ids)
