"""Admin engine routes over HTTP: profiles, switching, logs, the live feed, stopping a stream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.utils.gateway import RunningGateway

EVENT_STREAM = {"Accept": "text/event-stream"}  # what a browser's EventSource sends

ADMIN_ROUTES = [
    ("GET", "/api/admin/profiles"),
    ("POST", "/api/admin/profiles/beta/activate"),
    ("POST", "/api/admin/profiles/alpha/stop"),
    ("GET", "/api/admin/engines/alpha/logs"),
    ("GET", "/api/admin/live"),
    ("POST", "/api/admin/streams/some-request/stop"),
    ("GET", "/api/admin/benchmarks"),
]


async def profiles(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/admin/profiles")
    assert response.status_code == 200
    return {p["name"]: p for p in response.json()["data"]}


async def wait_until_active(client: httpx.AsyncClient, name: str, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        current = await profiles(client)
        if current[name]["active"] and current[name]["state"] == "ready":
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} did not become active and ready")


async def wait_until_stopped(client: httpx.AsyncClient, name: str, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (await profiles(client))[name]["state"] == "stopped":
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} did not stop")


async def sse_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    async for line in response.aiter_lines():
        if line.startswith("data: ") and line != "data: [DONE]":
            yield json.loads(line[6:])


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_admin_engine_routes_refuse_non_admins_without_side_effects(
    switch_gateway: RunningGateway, method: str, path: str
) -> None:
    key = await switch_gateway.new_key("someone@example.com")
    async with switch_gateway.client(key) as client:
        response = await client.request(method, path)
    async with httpx.AsyncClient(base_url=switch_gateway.url) as anonymous:
        unauthenticated = await anonymous.request(method, path)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "admin_required"
    assert unauthenticated.status_code == 401
    assert switch_gateway.state.engines.profile_for("default").name == "alpha"
    assert switch_gateway.state.engines.is_ready("alpha")


async def test_profiles_list_shows_state_process_and_availability(
    switch_gateway: RunningGateway,
) -> None:
    async with switch_gateway.client() as client:
        current = await profiles(client)

    alpha = current["alpha"]
    assert (alpha["state"], alpha["active"], alpha["healthy"], alpha["gpus"]) == (
        "ready",
        True,
        True,
        [0],
    )
    assert alpha["pid"] > 0
    assert alpha["port"] > 0
    assert alpha["uptime_s"] >= 0
    assert alpha["progress"] == 100.0
    assert current["beta"]["state"] == "stopped"
    assert current["remote"]["engine"] == "external"


async def test_activate_switches_the_default_model_and_refuses_a_second_switch(
    switch_gateway: RunningGateway,
) -> None:
    async with switch_gateway.client() as client:
        first = await client.post("/api/admin/profiles/beta/activate")
        second = await client.post("/api/admin/profiles/alpha/activate")
        unknown = await client.post("/api/admin/profiles/nope/activate")
        await wait_until_active(client, "beta")
        answer = await client.post(
            "/v1/chat/completions",
            json={"model": "default", "messages": [{"role": "user", "content": "hi"}]},
        )
        current = await profiles(client)
        assert switch_gateway.state.benchmarks is not None
        await switch_gateway.state.benchmarks.wait()
        stored = await client.get("/api/admin/benchmarks", params={"profile": "beta"})
        back = await client.post("/api/admin/profiles/alpha/activate")
        await wait_until_active(client, "alpha")

    assert first.status_code == 202
    assert (first.json()["name"], first.json()["benchmark"]) == ("beta", True)
    [benchmark] = stored.json()["data"]
    assert benchmark["profile"] == "beta"
    for level in ("concurrency_1", "concurrency_2"):
        result = benchmark["results"][level]
        assert (result["requests"], result["errors"]) == (2, 0)
        assert result["ttft_ms_p50"] > 0
        assert result["requests_per_min"] > 0
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "switch_in_progress"
    assert "Retry-After" in second.headers
    assert unknown.status_code == 404
    assert answer.status_code == 200
    assert answer.json()["model"] == "beta"
    assert current["alpha"]["state"] == "stopped"  # one GPU: the old engine was stopped
    assert back.status_code == 202
    assert back.json()["benchmark"] is False  # off for alpha


async def test_stopping_the_default_engine_makes_the_gateway_not_ready(
    switch_gateway: RunningGateway,
) -> None:
    async with switch_gateway.client() as client:
        stopped = await client.post("/api/admin/profiles/alpha/stop")
        await wait_until_stopped(client, "alpha")
        not_ready = await client.get("/readyz")
        started = await client.post("/api/admin/profiles/alpha/activate")
        await wait_until_active(client, "alpha")
        ready = await client.get("/readyz")

    assert stopped.status_code == 202
    assert (stopped.json()["name"], stopped.json()["held"]) == ("alpha", True)
    assert not_ready.status_code == 503
    assert not_ready.json() == {
        "status": "not_ready",
        "checks": {"database": True, "engine": False},
    }
    assert started.status_code == 202
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_stopping_an_external_profile_is_a_conflict(switch_gateway: RunningGateway) -> None:
    async with switch_gateway.client() as client:
        response = await client.post("/api/admin/profiles/remote/stop")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_possible"


async def test_engine_logs_tail_and_follow(switch_gateway: RunningGateway) -> None:
    async with switch_gateway.client() as client:
        tail = await client.get("/api/admin/engines/alpha/logs", params={"tail": 3})
        missing = await client.get("/api/admin/engines/nope/logs")
        async with client.stream(
            "GET", "/api/admin/engines/alpha/logs", params={"tail": 1}, headers=EVENT_STREAM
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["x-accel-buffering"] == "no"
            events = sse_events(response)
            first = await anext(events)
            log_file = switch_gateway.state.settings.logs_dir / "alpha.log"
            # What the engine writes, as it writes it, until the follower (which may begin
            # a moment later, behind `gpuchat supervisor`) has one.
            following = asyncio.ensure_future(anext(events))
            for _ in range(25):
                with log_file.open("a") as file:
                    file.write("a line for the follower\n")
                if (await asyncio.wait({following}, timeout=0.2))[0]:
                    break
            followed = await asyncio.wait_for(following, 1)

    assert tail.status_code == 200
    assert 1 <= len(tail.json()["lines"]) <= 3
    assert missing.status_code == 404
    assert "line" in first
    assert "a line for the follower" in followed["line"]


async def test_live_feed_shows_a_stream_and_the_admin_stops_it(
    switch_gateway: RunningGateway,
) -> None:
    user_key = await switch_gateway.new_key("streamer@example.com")
    body = {
        "model": "default",
        "stream": True,
        "messages": [{"role": "user", "content": "!tokens 200 !gap 0.05"}],
    }
    async with switch_gateway.client(user_key) as user, switch_gateway.client() as admin:
        async with user.stream("POST", "/v1/chat/completions", json=body) as chat:
            lines = chat.aiter_lines()
            while not (await anext(lines)).startswith("data: {"):
                pass
            await asyncio.sleep(0.3)
            async with admin.stream(
                "GET", "/api/admin/live", params={"interval": 0.2}, headers=EVENT_STREAM
            ) as feed:
                assert feed.headers["x-accel-buffering"] == "no"
                frame = await anext(sse_events(feed))
            [live] = [s for s in frame["streams"] if s["user"] == "streamer@example.com"]
            stop = await admin.post(f"/api/admin/streams/{live['request_id']}/stop")
            rest = [line async for line in lines if line.startswith("data: ")]

        again = await admin.post(f"/api/admin/streams/{live['request_id']}/stop")

    assert live["model"] == "default"
    assert live["profile"] == "alpha"
    assert live["tokens"] > 0
    assert live["tokens_per_s"] > 0
    assert frame["engines"][0]["name"] == "alpha"
    assert frame["gpus"]["available"] in (True, False)
    assert stop.status_code == 200
    assert "data: [DONE]" not in rest
    assert json.loads(rest[-1][6:])["error"]["code"] == "stopped_by_admin"
    assert again.status_code == 404


async def test_live_without_an_event_stream_accept_is_one_json_snapshot(
    switch_gateway: RunningGateway,
) -> None:
    async with switch_gateway.client() as client:
        response = await client.get("/api/admin/live")

    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["active"] == "alpha"
    assert {e["name"] for e in body["engines"]} == {"alpha", "beta", "remote"}
    assert body["gpus"]["available"] is False or body["gpus"]["gpus"]
    assert body["streams"] == []
