"""The relay against a real HTTP engine: keep-alives while the engine is silent, the idle,
first-token and total timeouts (also when longer than the keep-alive interval: one watchdog
per stream keeps them all), and a keep-alive connection the engine closed under a request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
import pytest
from aiohttp import web

from gpuchat.core.security import Principal
from gpuchat.engines.control import Upstream
from gpuchat.engines.profiles import Profile, Timeouts
from gpuchat.openai import sse
from gpuchat.services.relay import deadlines
from gpuchat.services.relay.context import RelayContext
from gpuchat.services.relay.stream import open_upstream, relay_stream

TOKEN = b'data: {"choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\n'


async def _engine(script: list[tuple[float, bytes]]) -> Callable[[web.Request], object]:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for pause, frame in script:
            await asyncio.sleep(pause)
            await response.write(frame)
        return response

    return handler


async def relay_once(
    script: list[tuple[float, bytes]], timeouts: Timeouts
) -> tuple[list[bytes], RelayContext, float]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", await _engine(script))
    runner = web.AppRunner(app, shutdown_timeout=0.1, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    profile = Profile(name="p", engine="external", urls=[f"http://127.0.0.1:{port}/v1"])
    profile = profile.model_copy(update={"timeouts": timeouts})
    ctx = RelayContext(
        request_id="r1",
        principal=Principal(1, "a@example.com", "user"),
        alias="p",
        upstream=Upstream(profile, f"http://127.0.0.1:{port}/v1", "m"),
        client="api",
        wants_usage=True,
    )
    started = time.monotonic()
    try:
        async with aiohttp.ClientSession() as http:
            response = await open_upstream(http, ctx, b"{}")
            frames = [f async for f in relay_stream(response, ctx)]
    finally:
        await runner.cleanup()
    return frames, ctx, time.monotonic() - started


@pytest.fixture
def keepalive_every_tenth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deadlines, "KEEPALIVE_SECONDS", 0.1)


async def test_a_silent_engine_gets_keepalives_then_the_idle_timeout(
    keepalive_every_tenth: None,
) -> None:
    timeouts = Timeouts(first_token=5, idle=0.6, total=10)
    frames, ctx, elapsed = await relay_once([(0, TOKEN), (30, sse.DONE)], timeouts)

    assert frames[0] == TOKEN
    assert frames[1:4] == [sse.KEEPALIVE] * 3  # the client hears something while it waits
    assert b"did not send the next token in time" in frames[-1]
    assert ctx.status_code == 504 and ctx.error_type == "upstream_timeout"
    assert elapsed < 5  # the idle timeout, not the engine's 30 s pause, ended it


async def test_the_first_token_deadline_counts_from_the_request(
    keepalive_every_tenth: None,
) -> None:
    timeouts = Timeouts(first_token=0.5, idle=10, total=10)
    frames, _, elapsed = await relay_once([(30, TOKEN)], timeouts)

    assert sse.KEEPALIVE in frames
    assert b"did not send the first token in time" in frames[-1]
    assert elapsed < 5


async def test_a_steady_stream_longer_than_the_idle_timeout_is_not_cut(
    keepalive_every_tenth: None,
) -> None:
    timeouts = Timeouts(first_token=5, idle=0.3, total=10)
    script = [(0.05, TOKEN)] * 20 + [(0, sse.DONE)]
    frames, ctx, _ = await relay_once(script, timeouts)

    assert b"".join(frames).count(b'"content": "hi"') == 20
    assert ctx.done and ctx.error_type is None and ctx.content_chunks == 20


async def test_the_total_deadline_ends_an_answer_that_never_stops(
    keepalive_every_tenth: None,
) -> None:
    timeouts = Timeouts(first_token=5, idle=1, total=0.8)
    frames, ctx, elapsed = await relay_once([(0.05, TOKEN)] * 100, timeouts)

    assert b"did not send the end of the answer in time" in frames[-1]
    assert ctx.error_type == "upstream_timeout"
    assert elapsed < 3


async def test_a_connection_the_engine_closed_under_the_request_is_retried() -> None:
    """What llama.cpp's server does to an idle keep-alive connection: close it just as the
    next request is written. The request goes again; the client never sees it."""
    attempts: list[bytes] = []
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: "
        + str(len(TOKEN + sse.DONE)).encode()
        + b"\r\n\r\n"
        + TOKEN
        + sse.DONE
    )

    async def engine(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        attempts.append(await reader.readuntil(b"\r\n\r\n"))
        if len(attempts) > 1:
            writer.write(answer)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(engine, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    profile = Profile(name="p", engine="external", urls=[f"http://127.0.0.1:{port}/v1"])
    ctx = RelayContext(
        request_id="r2",
        principal=Principal(1, "a@example.com", "user"),
        alias="p",
        upstream=Upstream(profile, f"http://127.0.0.1:{port}/v1", "m"),
        client="api",
        wants_usage=True,
    )
    try:
        async with aiohttp.ClientSession() as http:
            response = await open_upstream(http, ctx, b"{}")
            frames = [f async for f in relay_stream(response, ctx)]
    finally:
        server.close()
    assert len(attempts) == 2
    assert b"".join(frames) == TOKEN + sse.DONE
    assert ctx.done and ctx.error_type is None
