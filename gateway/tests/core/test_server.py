"""The HTTP server's own limits, against a gateway without nginx in front: a client that
trickles its headers is cut off, oversized headers are refused, others are served."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from gpuchat.core.config import Settings
from gpuchat.core.server import GuardedHttpToolsProtocol, server_options
from tests.utils.gateway import RunningGateway

TRICKLE_LIMIT_S = 30  # far beyond the test gateway's 1.5 s header deadline


async def _open(gateway: RunningGateway) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    url = urlsplit(gateway.url)
    assert url.hostname is not None and url.port is not None
    return await asyncio.open_connection(url.hostname, url.port)


async def _trickle_until_closed(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bytes:
    """Send one more header line every 0.2 s until the server answers or hangs up."""
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
    loop = asyncio.get_running_loop()
    give_up = loop.time() + TRICKLE_LIMIT_S
    n = 0
    while loop.time() < give_up:
        try:
            return await asyncio.wait_for(reader.read(1024), timeout=0.2)
        except TimeoutError:
            n += 1
            writer.write(f"X-Slow-{n}: x\r\n".encode())
            await writer.drain()
    raise AssertionError("the server kept waiting for the headers")


async def test_a_client_trickling_its_headers_is_cut_off_while_others_are_served(
    gateway: RunningGateway,
) -> None:
    reader, writer = await _open(gateway)
    try:
        slow = asyncio.create_task(_trickle_until_closed(reader, writer))
        async with httpx.AsyncClient(base_url=gateway.url) as other:
            served = await other.get("/healthz")
        answer = await slow
        assert await reader.read() == b""  # and the connection is closed
    finally:
        writer.close()
    assert served.status_code == 200
    assert answer.startswith(b"HTTP/1.1 408")


async def test_the_next_request_on_a_kept_alive_connection_has_a_deadline_too(
    gateway: RunningGateway,
) -> None:
    reader, writer = await _open(gateway)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        first = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":")[1]
                for line in first.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
        )
        await reader.readexactly(length)
        answer = await _trickle_until_closed(reader, writer)
    finally:
        writer.close()
    assert first.startswith(b"HTTP/1.1 200")
    assert answer.startswith(b"HTTP/1.1 408")


async def test_oversized_headers_are_431(gateway: RunningGateway) -> None:
    limit = gateway.state.settings.http_max_header_bytes
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        huge = await client.get("/healthz", headers={"X-Big": "x" * (limit + 1)})
        fine = await client.get("/healthz", headers={"X-Big": "x" * (limit // 2)})
    assert huge.status_code == 431
    assert fine.status_code == 200


def test_every_server_limit_is_explicit() -> None:
    options = server_options(Settings(http_keepalive_seconds=7, http_max_concurrency=99))
    assert options["http"] is GuardedHttpToolsProtocol
    assert options["timeout_keep_alive"] == 7
    assert options["limit_concurrency"] == 99
    assert options["h11_max_incomplete_event_size"] == 32 * 1024
    assert options["proxy_headers"] is False  # X-Forwarded-For: GPUCHAT_TRUSTED_PROXIES only
