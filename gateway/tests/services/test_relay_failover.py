"""Failover across the replicas of an `external` profile: a request that fails on a replica
before any answer came goes to another healthy one; only a stream already under way when
its replica dies ends with an error. In process and through `gpuchat supervisor`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from gpuchat.db.models import UsageRow
from gpuchat.engines import replicas as replicas_module
from tests.api.admin.conftest import SECRET, supervisor
from tests.engines.test_manager import eventually
from tests.engines.test_replicas import fake_upstream
from tests.services.test_deadlines import _listening
from tests.services.test_relay import usage_row
from tests.utils.chat import chat
from tests.utils.gateway import ADMIN_EMAIL, ADMIN_PASSWORD, RunningGateway, free_port
from tests.utils.gateway import start_gateway as start
from tests.utils.streams import StreamResult, chat_body, stream_chat


@dataclass
class Pool:
    gateway: RunningGateway
    ports: list[int]
    engines: list[Process]

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.ports[n]}/v1"

    async def kill(self, n: int) -> None:
        self.engines[n].kill()  # SIGKILL: no goodbye to open connections
        await self.engines[n].wait()

    async def revive(self, n: int) -> None:
        self.engines[n] = await fake_upstream(self.ports[n])
        await _listening(self.ports[n])

    def replicas(self) -> dict[str, tuple[bool, int]]:
        """URL -> (healthy, outstanding), as the engine status shows it."""
        [status] = [s for s in self.gateway.state.engines.statuses() if s.name == "pool"]
        return {r.url: (r.healthy, r.outstanding) for r in status.replicas}

    async def served(self, n: int, request_id: str) -> bool:
        async with httpx.AsyncClient(base_url=self.url(n).removesuffix("/v1")) as engine:
            return (await engine.get(f"/_requests/{request_id}")).status_code == 200


def write_profiles(data_dir: Path, urls: list[str]) -> Path:
    profiles = data_dir / "profiles.yaml"
    profiles.write_text(
        f"""
default: pool
profiles:
  - name: pool
    aliases: [default, pool-model]
    engine: external
    urls: {urls!r}
    served_model_name: fake
    timeouts: {{connect: 2, first_token: 10, idle: 5, total: 30}}
"""
    )
    return profiles


@pytest.fixture(params=["in-process", "supervisor"])
async def pool(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Pool]:
    # Probes come back fast, so a revived replica is used again within the test.
    monkeypatch.setattr(replicas_module, "PROBE_UNHEALTHY_FIRST_S", 0.2)
    monkeypatch.setattr(replicas_module, "PROBE_UNHEALTHY_MAX_S", 0.5)
    ports = [free_port(), free_port()]
    engines = [await fake_upstream(port) for port in ports]
    try:
        for port in ports:
            await _listening(port)
        urls = [f"http://127.0.0.1:{port}/v1" for port in ports]
        profiles = write_profiles(tmp_path, urls)
        database = f"sqlite+aiosqlite:///{tmp_path / 'gpuchat.db'}"
        async with contextlib.AsyncExitStack() as stack:
            overrides: dict[str, Any] = {}
            if request.param == "supervisor":
                supervisor_url = await stack.enter_async_context(supervisor(tmp_path, profiles))
                overrides = {"supervisor_url": supervisor_url, "supervisor_secret": SECRET}
            gateway = await stack.enter_async_context(
                start(data_dir=tmp_path, database_url=database, profiles=profiles, **overrides)
            )
            yield Pool(gateway, ports, engines)
    finally:
        for engine in engines:
            if engine.returncode is None:
                engine.kill()
                await engine.wait()


async def ask(client: httpx.AsyncClient, n: int, *, stream: bool) -> tuple[str, str, bool]:
    """(request id, answer text, whether the answer came complete)."""
    question = f"question {n}"
    if stream:
        result = await stream_chat(client, chat_body(question, model="pool-model"))
        assert result.status == 200, result.frames
        return result.headers["x-request-id"], result.text, result.done and not result.errors
    response = await client.post(
        "/v1/chat/completions", json=chat_body(question, model="pool-model", stream=False)
    )
    assert response.status_code == 200, response.text
    text = response.json()["choices"][0]["message"]["content"]
    return response.headers["x-request-id"], text, True


async def api_rows(gateway: RunningGateway) -> int:
    await gateway.state.usage.flush()
    async with gateway.state.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(UsageRow).where(UsageRow.client == "api")
        )
    return int(count or 0)


async def test_failover_a_killed_replica_costs_no_request(pool: Pool) -> None:
    gateway = pool.gateway
    await pool.kill(0)
    for n in range(2):
        await gateway.create_user(f"chatter-{n}@example.com")

    async def web_turn(n: int) -> tuple[str, str, bool]:
        async with gateway.login(f"chatter-{n}@example.com") as browser:
            result = await chat(browser, {"content": f"web {n}", "model": "pool-model"})
        done = result.one("done")["status"] == "complete"
        return result.one("start")["request_id"], result.text, done

    async with gateway.client() as client:
        answers = await asyncio.gather(
            *(ask(client, n, stream=n % 2 == 0) for n in range(20)),
            *(web_turn(n) for n in range(2)),
        )

    expected = [f"echo: question {n}" for n in range(20)] + [f"echo: web {n}" for n in range(2)]
    assert [(text, complete) for _, text, complete in answers] == [(t, True) for t in expected]
    for request_id, _, _ in answers[:20]:
        assert (await usage_row(gateway, request_id)).status_code == 200
    assert await api_rows(gateway) == 20  # one row per request, retries are not rows
    assert gateway.state.admission._queues["pool"].inflight == 0  # tickets given back once
    # The dead replica is shown unhealthy; nothing is left outstanding anywhere.
    # (Through the supervisor, releases and statuses arrive a moment later.)
    expected_view = {pool.url(0): (False, 0), pool.url(1): (True, 0)}
    async with gateway.login(ADMIN_EMAIL, ADMIN_PASSWORD) as admin:

        async def shown() -> bool:
            listed = (await admin.get("/api/admin/profiles")).json()["data"]
            [status] = [s for s in listed if s["name"] == "pool"]
            view = {r["url"]: (r["healthy"], r["outstanding"]) for r in status["replicas"]}
            return view == expected_view

        await eventually(shown, 5)

    await pool.revive(0)
    await eventually(lambda: pool.replicas()[pool.url(0)] == (True, 0), 15)
    async with gateway.client() as client:
        # New conversations (the old ones stay where they moved): spread over both again.
        ids = [(await ask(client, 100 + n, stream=True))[0] for n in range(6)]
    assert any([await pool.served(0, request_id) for request_id in ids])


async def test_failover_with_every_replica_dead_is_a_fast_502(pool: Pool) -> None:
    gateway = pool.gateway
    await pool.kill(0)
    await pool.kill(1)
    started = time.monotonic()
    async with gateway.client() as client:
        streaming = await client.post(
            "/v1/chat/completions", json=chat_body("anyone?", model="pool-model")
        )
        whole = await client.post(
            "/v1/chat/completions", json=chat_body("anyone?", model="pool-model", stream=False)
        )
    assert time.monotonic() - started < 3
    for response in (streaming, whole):
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "upstream_unreachable"
        assert int(response.headers["retry-after"]) >= 1
        row = await usage_row(gateway, response.headers["x-request-id"])
        assert (row.status_code, row.error_type) == (502, "upstream_unreachable")
    assert await api_rows(gateway) == 2
    both_down = {pool.url(0): (False, 0), pool.url(1): (False, 0)}
    await eventually(lambda: pool.replicas() == both_down, 5)


async def test_failover_never_retries_a_stream_its_replica_died_under(pool: Pool) -> None:
    """Streams under way on the killed replica end with an error event (the client already
    has part of the answer); those on the other one finish; later requests are fine."""
    gateway = pool.gateway
    # Distinct conversations: the same one would keep to one replica.
    questions = [f"!tokens 60 !gap 0.05 !conversation-{n}" for n in range(4)]
    async with gateway.client() as client:
        streams = [
            asyncio.create_task(stream_chat(client, chat_body(question, model="pool-model")))
            for question in questions
        ]
        await asyncio.sleep(1.0)  # every stream has tokens by now, none has finished
        await pool.kill(0)
        results: list[StreamResult] = await asyncio.gather(*streams)
        after = [await ask(client, n, stream=n % 2 == 0) for n in range(4)]

    full = " ".join(f"t{n}" for n in range(60))
    broken = [r for r in results if not r.done]
    finished = [r for r in results if r.done]
    assert broken and finished
    for result in broken:
        assert result.errors[0]["error"]["code"] == "upstream_broken"
        assert result.text and full.startswith(result.text) and result.text != full
        row = await usage_row(gateway, result.headers["x-request-id"])
        assert (row.status_code, row.error_type) == (502, "upstream_broken")
    assert all(r.text == full and not r.errors for r in finished)
    assert [(text, complete) for _, text, complete in after] == [
        (f"echo: question {n}", True) for n in range(4)
    ]


async def test_failover_client_gone_during_the_retry_leaves_nothing_held(pool: Pool) -> None:
    """The client hangs up while the request waits on the second replica: that one sees
    its connection closed; one usage row (499) per request, no lease or ticket left."""
    gateway = pool.gateway
    await pool.kill(0)
    ids = [f"gone-{n}" for n in range(2)]

    async def give_up(request_id: str, stream: bool) -> None:
        async with gateway.client() as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.post(
                    "/v1/chat/completions",
                    json=chat_body("!slow 5", model="pool-model", stream=stream),
                    headers={"X-Request-Id": request_id},
                    timeout=1.0,
                )

    # Two at once: one of them is sent to the dead replica first.
    await asyncio.gather(give_up(ids[0], True), give_up(ids[1], False))

    async def closed_on_the_live_replica() -> bool:
        async with httpx.AsyncClient(base_url=pool.url(1).removesuffix("/v1")) as engine:
            records = [(await engine.get(f"/_requests/{i}")).json() for i in ids]
        return all("closed_at" in record for record in records)

    await eventually(closed_on_the_live_replica, 5)
    for request_id in ids:
        row = await usage_row(gateway, request_id)
        assert (row.status_code, row.error_type) == (499, "client_closed")
    assert await api_rows(gateway) == 2
    await eventually(lambda: pool.replicas()[pool.url(1)] == (True, 0), 5)
    assert gateway.state.admission._queues["pool"].inflight == 0
