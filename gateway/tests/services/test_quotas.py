"""Rate limits and token quotas per user and per key: 429s with their headers, before
anything reaches the engine; one quota for the web chat and the API together."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime

import httpx
import pytest

from gpuchat.core.config import Settings
from gpuchat.core.db import session_scope
from gpuchat.core.errors import GatewayError
from gpuchat.core.security import Principal
from gpuchat.db.models import UsageRow
from gpuchat.db.repositories import users
from gpuchat.services.limits.quotas import UsageLimits
from gpuchat.services.limits.store import LimitStore
from tests.utils.chat import chat
from tests.utils.gateway import RunningGateway
from tests.utils.streams import chat_body, stream_chat


async def limited_user(gateway: RunningGateway, **limits: int) -> tuple[str, str]:
    email = f"limited-{secrets.token_hex(4)}@example.com"
    await gateway.create_user(email, limits=limits)
    return email, await gateway.new_key(email)


async def settle(gateway: RunningGateway) -> None:
    """Wait until finished requests have been counted."""
    await gateway.state.usage.flush()
    await asyncio.wait_for(gateway.state.limits._jobs.join(), 5)


async def never_reached_upstream(gateway: RunningGateway, request_id: str) -> bool:
    async with httpx.AsyncClient(base_url=await gateway.upstream_url()) as fake:
        return (await fake.get(f"/_requests/{request_id}")).status_code == 404


def assert_limited(response: httpx.Response, code: str) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["error"]["type"] == "rate_limit_error" and body["error"]["code"] == code
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert int(response.headers["x-ratelimit-limit"]) >= 1
    assert int(response.headers["x-ratelimit-reset"]) >= 1


async def test_requests_per_minute_refuses_with_headers_before_upstream(
    gateway: RunningGateway,
) -> None:
    _, key = await limited_user(gateway, requests_per_minute=2)
    async with gateway.client(key) as client:
        first = await client.post("/v1/chat/completions", json=chat_body("hi", stream=False))
        second = await stream_chat(client, chat_body("hi"))
        request_id = "limited-" + secrets.token_hex(6)
        third = await client.post(
            "/v1/chat/completions",
            json=chat_body("hi", stream=False),
            headers={"X-Request-Id": request_id},
        )
    assert first.status_code == 200 and second.status == 200 and second.done
    assert first.headers["x-ratelimit-limit"] == "2"
    assert first.headers["x-ratelimit-remaining"] == "1"
    assert second.headers["x-ratelimit-remaining"] == "0"
    assert_limited(third, "rate_limit_exceeded")
    assert await never_reached_upstream(gateway, request_id)


async def test_daily_quota_counts_web_chat_and_api_together(gateway: RunningGateway) -> None:
    email, key = await limited_user(gateway, tokens_per_day=12)
    async with gateway.login(email) as browser:
        turn = await chat(browser, {"content": "one two three four five"})
        assert turn.status == 200 and "done" in turn.kinds
        await settle(gateway)
        async with gateway.client(key) as client:
            api = await client.post("/v1/chat/completions", json=chat_body("hi", stream=False))
        refused_chat = await chat(browser, {"content": "again"})
    assert_limited(api, "quota_exceeded")
    assert refused_chat.status == 429
    assert refused_chat.body is not None and refused_chat.body["error"]["code"] == "quota_exceeded"
    # until midnight UTC
    assert 1 <= int(api.headers["retry-after"]) <= 86_400


async def test_quota_is_seeded_from_stored_usage(gateway: RunningGateway) -> None:
    """A restart does not reset a quota: the first check sums today's rows."""
    email, key = await limited_user(gateway, tokens_per_month=1000)
    async with session_scope(gateway.state.sessions) as session:
        user = await users.get_user_by_email(session, email)
        assert user is not None
        session.add(
            UsageRow(
                request_id="seed-" + secrets.token_hex(6),
                user_id=user.id,
                client="api",
                model_alias="fake-model",
                input_tokens=600,
                output_tokens=400,
                status_code=200,
                created=datetime.now(UTC),
            )
        )
    async with gateway.client(key) as client:
        response = await client.post("/v1/chat/completions", json=chat_body("hi", stream=False))
    assert_limited(response, "quota_exceeded")


async def test_concurrent_streams_limit_frees_when_the_stream_ends(gateway: RunningGateway) -> None:
    _, key = await limited_user(gateway, concurrent_streams=1)
    async with gateway.client(key) as client:
        slow = asyncio.create_task(stream_chat(client, chat_body("!tokens 10 !gap 0.1")))
        await asyncio.sleep(0.4)
        busy = await client.post("/v1/chat/completions", json=chat_body("hi", stream=False))
        assert (await slow).done
        await settle(gateway)
        again = await client.post("/v1/chat/completions", json=chat_body("hi", stream=False))
    assert_limited(busy, "rate_limit_exceeded")
    assert again.status_code == 200


async def test_tokens_per_minute_counts_the_answer(gateway: RunningGateway) -> None:
    _, key = await limited_user(gateway, tokens_per_minute=20)
    async with gateway.client(key) as client:
        big = await client.post("/v1/chat/completions", json=chat_body("!tokens 30", stream=False))
        await settle(gateway)
        refused = await client.post("/v1/chat/completions", json=chat_body("hi", stream=False))
    assert big.status_code == 200
    assert_limited(refused, "rate_limit_exceeded")
    assert "tokens" in refused.json()["error"]["message"]


async def test_rejections_are_counted_in_metrics(gateway: RunningGateway) -> None:
    _, key = await limited_user(gateway, requests_per_minute=1)
    async with gateway.client(key) as client:
        await client.post("/v1/chat/completions", json=chat_body("hi", stream=False))
        await client.post("/v1/chat/completions", json=chat_body("hi", stream=False))
        text = (await client.get("/metrics")).text
    assert 'gpuchat_rate_limited_total{limit="requests_per_minute"}' in text


async def test_api_key_limits_apply_on_top_of_the_user(gateway: RunningGateway) -> None:
    limits = UsageLimits(
        Settings(key_requests_per_minute=1), LimitStore(None), gateway.state.sessions
    )
    key_one = Principal(1, "a@example.com", "user", api_key_id=101)
    key_two = Principal(1, "a@example.com", "user", api_key_id=102)
    await limits.admit(key_one)
    await limits.admit(key_two)  # another key of the same user has its own budget
    with pytest.raises(GatewayError) as refused:
        await limits.admit(key_one)
    assert refused.value.status == 429 and refused.value.retry_after
    await limits.admit(Principal(1, "a@example.com", "user"))  # the web UI: no key limit
