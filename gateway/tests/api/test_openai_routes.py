"""The OpenAI-compatible routes: models list, bad input, unknown routes — one envelope."""

from __future__ import annotations

import pytest

from tests.utils.gateway import RunningGateway
from tests.utils.streams import chat_body


async def test_models_lists_profiles_by_alias(gateway: RunningGateway) -> None:
    async with gateway.client() as client:
        response = await client.get("/v1/models")
    assert response.status_code == 200
    ids = {m["id"] for m in response.json()["data"]}
    assert {"fake", "fake-model", "default", "unreachable"} <= ids


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        (b"{not json", 400, None),
        (b"\xff\xfe not utf-8", 400, None),
        (b"[]", 400, None),
        (b'{"model": "fake"}', 422, "messages"),
        (b'{"model": "fake", "messages": []}', 422, "messages"),
        (
            b'{"model": "fake", "messages": [{"role": "wizard", "content": "x"}]}',
            422,
            "messages.0.role",
        ),
        (
            b'{"model": "fake", "messages": [{"role": "user", "content": "a\\u0000b"}]}',
            422,
            "messages.0.content",
        ),
        (b'{"model": "fake", "messages": [{"role": "user", "content": "x"}], "n": 2}', 422, "n"),
        (
            b'{"model": "fake", "messages": [{"role": "user", "content": "x"}], "temperature": 9}',
            422,
            "temperature",
        ),
        (
            b'{"model": "fake", "messages": [{"role": "user", "content": "x"}], "best_of": 3}',
            400,
            "best_of",
        ),
    ],
)
async def test_chat_bad_input_is_4xx_envelope(
    gateway: RunningGateway, body: bytes, status: int, param: str | None
) -> None:
    async with gateway.client() as client:
        response = await client.post(
            "/v1/chat/completions", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


async def test_chat_unknown_model_is_404(gateway: RunningGateway) -> None:
    async with gateway.client() as client:
        response = await client.post(
            "/v1/chat/completions", json=chat_body("x", model="no-such-model")
        )
    assert response.status_code == 404
    assert response.json()["error"] == {
        "message": "The model 'no-such-model' does not exist",
        "type": "not_found_error",
        "code": "model_not_found",
        "param": "model",
    }


async def test_chat_body_over_limit_is_413(gateway: RunningGateway) -> None:
    huge = "x" * (gateway.state.settings.max_body_bytes + 10)
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(huge))
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"


async def test_unknown_route_and_method_use_the_envelope(gateway: RunningGateway) -> None:
    async with gateway.client() as client:
        missing = await client.get("/v1/nothing-here")
        wrong_method = await client.get("/v1/chat/completions")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["source"] == "gateway"


async def test_health_and_ready(gateway: RunningGateway) -> None:
    async with gateway.client() as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "engine": True}
