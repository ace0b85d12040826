"""deploy/nginx/gpuchat.conf: static checks, `nginx -t`, and a real nginx in front of a
server-sent events source proving chunks are relayed as they come, not at the end."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from gpuchat.core.middleware import SECURITY_HEADERS
from gpuchat.openai.sse import SSE_HEADERS
from tests.deploy.helpers import NGINX_CONF

CONF = NGINX_CONF.read_text(encoding="utf-8")
CHUNKS = 10
INTERVAL = 0.2  # seconds between chunks


def _directives(text: str) -> list[tuple[str, str]]:
    """(name, arguments) of every simple directive, comments removed."""
    text = re.sub(r"#[^\n]*", "", text)
    return [(m[0], m[1].strip()) for m in re.findall(r"(?m)^\s*([a-z_0-9]+)\s+([^;{]*);", text)]


def _location_root() -> list[tuple[str, str]]:
    body = CONF[CONF.index("location / {\n        proxy_pass") :]
    return _directives(body[: body.index("\n    }")])


def test_streaming_directives() -> None:
    location = dict(_location_root())
    assert location["proxy_pass"] == "http://gpuchat_gateway"
    assert location["proxy_buffering"] == "off"
    assert location["proxy_cache"] == "off"
    assert location["proxy_read_timeout"] == "3600s"
    assert location["proxy_http_version"] == "1.1"
    assert location["chunked_transfer_encoding"] == "on"
    assert location["proxy_set_header"]  # Host and friends
    headers = [args for name, args in _location_root() if name == "proxy_set_header"]
    assert 'Connection ""' in headers  # keep-alive to the upstream
    assert "X-Forwarded-Proto $scheme" in headers
    # The gateway's `X-Accel-Buffering: no` must reach nginx's logic, not be ignored or
    # merely echoed to the client (what the seed's `add_header` did).
    assert SSE_HEADERS["X-Accel-Buffering"] == "no"
    names = {name for name, _ in _directives(CONF)}
    assert "proxy_ignore_headers" not in names
    assert "x-accel-buffering" not in " ".join(
        args.lower() for name, args in _directives(CONF) if name == "add_header"
    )


def test_security_headers_are_not_duplicated() -> None:
    gateway_sends = {name.decode().lower() for name, _ in SECURITY_HEADERS}
    added = {args.split()[0].lower() for name, args in _directives(CONF) if name == "add_header"}
    assert added == {"strict-transport-security"}
    assert not added & gateway_sends


def test_http_redirects_to_https() -> None:
    assert "listen 80 default_server;" in CONF
    assert "return 301 https://$host$request_uri;" in CONF
    assert re.search(r"listen 443 ssl", CONF)


# --- a real nginx ---------------------------------------------------------------------------


def _nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "nginx"], check=False, env=env, capture_output=True
        )
        found = shutil.which("nginx") or (
            "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
        )
        if found:
            return found
    pytest.skip("nginx is not installed and cannot be installed here")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Rendered:
    binary: str
    prefix: Path
    conf: Path
    https_port: int
    http_port: int


def render(tmp: Path, upstream_port: int, *, binary: str, conf: str = CONF) -> Rendered:
    """The shipped server blocks in a temp prefix: loopback ports, upstream 127.0.0.1, a
    self-signed certificate (the test variant of the production file)."""
    certs = tmp / "certs"
    certs.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", certs / "privkey.pem",
         "-out", certs / "fullchain.pem"],
        check=True, capture_output=True,
    )  # fmt: skip
    https_port, http_port = _free_port(), _free_port()
    site = conf.replace("server gateway:8080;", f"server 127.0.0.1:{upstream_port};")
    site = site.replace("/etc/nginx/certs/", f"{certs}/")
    site = re.sub(r"(?m)^\s*listen \[::\].*\n", "", site)  # no IPv6 needed on loopback
    site = site.replace("listen 80 ", f"listen 127.0.0.1:{http_port} ")
    site = site.replace("listen 443 ", f"listen 127.0.0.1:{https_port} ")
    assert "gateway:" not in site and "/etc/nginx" not in site
    (tmp / "gpuchat.conf").write_text(site)
    temp = "\n".join(
        f"    {kind}_temp_path {tmp}/{kind}_temp;"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root root;\n" if os.geteuid() == 0 else ""
    main = tmp / "nginx.conf"
    main.write_text(
        f"{user}worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log warn;\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{\n    access_log off;\n{temp}\n    include {tmp}/gpuchat.conf;\n}}\n"
    )
    return Rendered(binary, tmp, main, https_port, http_port)


def _nginx_argv(rendered: Rendered, *more: str) -> list[str]:
    return [rendered.binary, "-p", str(rendered.prefix), "-c", str(rendered.conf),
            "-e", str(rendered.prefix / "error.log"), *more]  # fmt: skip


@pytest.fixture(scope="module")
def nginx_binary() -> str:
    return _nginx_binary()


def test_nginx_accepts_the_shipped_config(nginx_binary: str, tmp_path: Path) -> None:
    rendered = render(tmp_path, 9, binary=nginx_binary)
    result = subprocess.run(_nginx_argv(rendered, "-t"), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


async def _sse(request: web.Request) -> web.StreamResponse:
    """Ten events, 200 ms apart; no X-Accel-Buffering header (nginx's config must suffice)."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for i in range(CHUNKS):
        if i:
            await asyncio.sleep(INTERVAL)
        await response.write(f'data: {{"i": {i}}}\n\n'.encode())
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def _metrics(_: web.Request) -> web.Response:
    return web.Response(text='gpuchat_tokens_total{user="7"} 42\n')


@pytest.fixture
async def sse_server() -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_get("/v1/stream", _sse)
    app.router.add_get("/metrics", _metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield port
    await runner.cleanup()


@pytest.fixture
def nginx(
    nginx_binary: str, tmp_path: Path, sse_server: int, request: pytest.FixtureRequest
) -> Iterator[Rendered]:
    conf = getattr(request, "param", CONF)  # a variant, for the control test
    rendered = render(tmp_path, sse_server, binary=nginx_binary, conf=conf)
    process = subprocess.Popen(
        _nginx_argv(rendered, "-g", "daemon off;"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", rendered.https_port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (
                        (tmp_path / "error.log").read_text()
                        if (tmp_path / "error.log").exists()
                        else ""
                    )
                    pytest.fail(f"nginx did not start: {log}")
                time.sleep(0.05)
        yield rendered
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _arrivals(url: str, **headers: str) -> list[float]:
    """Seconds from sending the request to the arrival of each `data:` event."""
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    times: list[float] = []
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        async with session.get(url, ssl=tls, headers=headers) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                while b"\n\n" in buffer:
                    frame, buffer = buffer.split(b"\n\n", 1)
                    if frame.startswith(b"data: {"):
                        times.append(time.perf_counter() - started)
    return times


async def test_sse_chunks_arrive_spread_out_through_nginx(nginx: Rendered, sse_server: int) -> None:
    direct = await _arrivals(f"http://127.0.0.1:{sse_server}/v1/stream")
    proxied = await _arrivals(f"https://127.0.0.1:{nginx.https_port}/v1/stream", Host="localhost")
    assert len(direct) == len(proxied) == CHUNKS
    span = INTERVAL * (CHUNKS - 1)
    # The first event comes at once (TLS handshake included), not after the whole stream...
    assert proxied[0] < 0.3 + direct[0], (proxied, direct)
    # ...and each later one about when the source wrote it: a buffered proxy would deliver
    # all ten together, ~1.8 s after the request.
    assert all(b > a for a, b in itertools.pairwise(proxied)), proxied
    assert proxied[-1] - proxied[0] > span * 0.75, proxied
    lags = [p - d for p, d in zip(proxied, direct, strict=True)]
    assert max(lags) < 0.3, (lags, proxied, direct)


BUFFERED = CONF.replace("proxy_buffering off;", "proxy_buffering on;")


@pytest.mark.parametrize("nginx", [BUFFERED], indirect=True, ids=["buffering-on"])
async def test_the_measure_catches_a_buffering_proxy(nginx: Rendered) -> None:
    """Control: the same source through nginx with buffering on arrives in one burst at the
    end, so the test above does tell the two apart."""
    assert BUFFERED != CONF
    proxied = await _arrivals(f"https://127.0.0.1:{nginx.https_port}/v1/stream", Host="localhost")
    assert len(proxied) == CHUNKS
    assert proxied[0] > INTERVAL * (CHUNKS - 1) * 0.75, proxied
    assert proxied[-1] - proxied[0] < INTERVAL, proxied


async def test_plain_http_redirects(nginx: Rendered) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{nginx.http_port}/v1/stream?x=1"
        async with session.get(
            url, allow_redirects=False, headers={"Host": "chat.example.com"}
        ) as response:
            assert response.status == 301
            assert response.headers["Location"] == "https://chat.example.com/v1/stream?x=1"


async def test_metrics_are_not_served_through_nginx(nginx: Rendered, sse_server: int) -> None:
    """Per-user counters stay between Prometheus and the gateways."""
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{sse_server}/metrics") as direct:
            assert direct.status == 200
        for path in ("/metrics", "/metrics?x=1"):
            url = f"https://127.0.0.1:{nginx.https_port}{path}"
            async with session.get(url, ssl=tls, headers={"Host": "localhost"}) as proxied:
                assert proxied.status == 404
                assert "gpuchat_tokens_total" not in await proxied.text()
