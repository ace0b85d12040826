"""Security headers on every response, and CORS from the allow-list only."""

from __future__ import annotations

import httpx

from tests.utils.gateway import ALLOWED_ORIGIN, RunningGateway
from tests.utils.streams import chat_body


def assert_secure_headers(response: httpx.Response) -> None:
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_security_headers_on_every_kind_of_response(gateway: RunningGateway) -> None:
    async with gateway.client() as client:
        responses = [
            await client.get("/healthz"),
            await client.get("/nowhere"),
            await client.get("/api/me", headers={"Authorization": "Bearer bad"}),
            await client.post("/v1/chat/completions", json=chat_body("hi")),
        ]
    for response in responses:
        assert_secure_headers(response)


async def test_cors_allows_only_listed_origins(gateway: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        allowed = await client.options(
            "/v1/models",
            headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "GET"},
        )
        denied = await client.options(
            "/v1/models",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        simple = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in denied.headers
    assert "access-control-allow-origin" not in simple.headers
