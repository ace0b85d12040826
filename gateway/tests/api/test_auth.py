"""Bearer-key authentication on /v1: every failure is a 401 envelope with WWW-Authenticate."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import update

from gpuchat.core.db import session_scope
from gpuchat.core.security import api_key_digest
from gpuchat.db.models import ApiKey, User
from tests.utils.gateway import RunningGateway
from tests.utils.streams import chat_body


def assert_401(response: object) -> None:
    import httpx

    assert isinstance(response, httpx.Response)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["error"]["type"] == "authentication_error"
    assert body["source"] == "gateway"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer  x y",
        "Basic dXNlcjpwYXNz",
        "Bearer gpc_not-a-real-key",
        "bearer x y z",
    ],
)
async def test_auth_missing_or_bad_key_is_401(gateway: RunningGateway, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    async with gateway.client() as client:
        client.headers.pop("Authorization")
        chat = await client.post("/v1/chat/completions", json=chat_body("hi"), headers=headers)
        models = await client.get("/v1/models", headers=headers)
    assert_401(chat)
    assert_401(models)


async def test_a_key_revoked_elsewhere_stops_within_the_auth_cache_time(
    gateway: RunningGateway,
) -> None:
    """Revoked by another replica or by hand in the database: this gateway notices within
    GPUCHAT_AUTH_CACHE_SECONDS (revocations through this gateway apply at once)."""
    key = await gateway.new_key("revoked@example.com")
    async with gateway.client(key) as client:
        assert (await client.get("/v1/models")).status_code == 200
        async with session_scope(gateway.state.sessions) as session:
            await session.execute(
                update(ApiKey).where(ApiKey.sha256 == api_key_digest(key)).values(revoked=True)
            )
        deadline = time.monotonic() + gateway.state.settings.auth_cache_seconds + 2
        response = await client.get("/v1/models")
        while response.status_code == 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            response = await client.get("/v1/models")
        assert_401(response)


async def test_auth_disabled_user_key_is_401(gateway: RunningGateway) -> None:
    key = await gateway.new_key("disabled@example.com")
    async with session_scope(gateway.state.sessions) as session:
        await session.execute(
            update(User).where(User.email == "disabled@example.com").values(disabled=True)
        )
    async with gateway.client(key) as client:
        assert_401(await client.post("/v1/chat/completions", json=chat_body("hi")))
