"""The request middleware on its own: Host allow-list, body limit while reading, headers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gpuchat.core.errors import GatewayError
from gpuchat.core.middleware import RequestContextMiddleware


async def echo_length(request: Request) -> JSONResponse:
    return JSONResponse({"received": len(await request.body())})


def app(allowed_hosts: list[str] | None = None) -> RequestContextMiddleware:
    inner = Starlette(
        routes=[Route("/echo", echo_length, methods=["POST"])],
        exception_handlers={GatewayError: lambda _r, e: e.response()},  # type: ignore[arg-type, return-value]
    )
    return RequestContextMiddleware(inner, max_body_bytes=1024, allowed_hosts=allowed_hosts)


def client(
    allowed_hosts: list[str] | None = None, host: str = "chat.example.com"
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app(allowed_hosts)),
        base_url=f"http://{host}",
        headers={"Content-Type": "application/json"},
    )


async def chunks(total: int) -> AsyncIterator[bytes]:
    for _ in range(total // 256):
        yield b"x" * 256


async def test_body_limit_applies_to_chunked_bodies_without_content_length() -> None:
    async with client() as c:
        small = await c.post("/echo", content=chunks(512))
        large = await c.post("/echo", content=chunks(4096))
    assert small.json() == {"received": 512}
    assert large.status_code == 413
    assert large.json()["error"]["type"] == "request_too_large"


async def test_host_allow_list_refuses_other_hosts() -> None:
    async with (
        client(["chat.example.com"]) as allowed,
        client(["chat.example.com"], "evil.example") as other,
    ):
        ok = await allowed.post("/echo", content=b"hi")
        refused = await other.post("/echo", content=b"hi")
    assert ok.status_code == 200
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_host"
    assert refused.headers["x-content-type-options"] == "nosniff"


async def test_bodies_other_than_json_are_415_before_the_route_reads_them() -> None:
    """What a cross-site form or `fetch(..., {mode: "no-cors"})` can send without a CORS
    preflight (forms, text/plain) is never read."""
    async with client() as c:
        refused = [
            await c.post("/echo", content=b"{}", headers={"Content-Type": content_type})
            for content_type in (
                "text/plain",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "application/jsonp",
            )
        ]
        no_type = await c.post("/echo", content=b"{}", headers={"Content-Type": ""})
        json_ok = await c.post("/echo", content=b"{}")
        vendor_json = await c.post(
            "/echo", content=b"{}", headers={"Content-Type": "application/merge-patch+json"}
        )
        empty = await httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app()), base_url="http://chat.example.com"
        ).post("/echo")
    for response in refused:
        assert response.status_code == 415, response.request.headers["content-type"]
        assert response.json()["error"]["code"] == "unsupported_media_type"
    assert no_type.status_code == 415
    assert json_ok.status_code == vendor_json.status_code == empty.status_code == 200
