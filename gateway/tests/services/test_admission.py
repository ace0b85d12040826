"""The admission queue: engine concurrency, round-robin between users, positions, bounds."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from gpuchat.core.config import Settings
from gpuchat.core.errors import GatewayError
from gpuchat.services.limits.admission import Admission
from gpuchat.services.limits.queue import Ticket
from tests.conftest import fake_profiles_yaml
from tests.utils.chat import chat
from tests.utils.gateway import RunningGateway, start_gateway
from tests.utils.streams import chat_body


def test_queue_serves_users_round_robin_and_renumbers() -> None:
    admission = Admission(max_length=10, max_wait_s=60)
    running = admission.enter("e", 1, "blocker")
    assert running.admitted
    tickets = [admission.enter("e", 1, user) for user in "AAABBC"]
    assert [t.position for t in tickets] == [1, 4, 6, 2, 5, 3]
    served: list[str] = []
    current: Ticket = running
    while True:
        current.close()
        admitted = [t for t in tickets if t.admitted and not t.closed]
        if not admitted:
            break
        current = admitted[0]
        served.append(current.user)
        assert current.position == 0
    assert served == ["A", "B", "C", "A", "B", "A"]
    assert admission.lengths() == {"e": 0}


def test_queue_bounds_length_and_leaving_frees_the_place() -> None:
    admission = Admission(max_length=2, max_wait_s=60)
    admission.enter("e", 1, "a")
    first, second = admission.enter("e", 1, "b"), admission.enter("e", 1, "c")
    with pytest.raises(GatewayError) as full:
        admission.enter("e", 1, "d")
    assert full.value.status == 429 and full.value.retry_after
    first.close()
    assert second.position == 1
    admission.enter("e", 1, "d")  # a place is free again


async def test_queue_wait_is_bounded_with_429_or_503_while_loading() -> None:
    for loading, status in ((False, 429), (True, 503)):
        admission = Admission(max_length=5, max_wait_s=0.2, is_loading=lambda _, v=loading: v)
        admission.enter("e", 1, "a")
        ticket = admission.enter("e", 1, "b")
        with pytest.raises(GatewayError) as late:
            await admission.wait(ticket)
        assert late.value.status == status and late.value.retry_after
        assert ticket.closed and admission.lengths() == {"e": 0}


@pytest.fixture(scope="module")
async def one_slot(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningGateway]:
    data_dir = tmp_path_factory.mktemp("gateway-one-slot")
    profiles = data_dir / "profiles.yaml"
    profiles.write_text(fake_profiles_yaml(max_concurrency=1))
    url = f"sqlite+aiosqlite:///{data_dir / 'gpuchat.db'}"
    async with start_gateway(data_dir=data_dir, database_url=url, profiles=profiles) as running:
        yield running


async def upstream_starts(gateway: RunningGateway, request_ids: list[str]) -> list[str]:
    """The request ids in the order the engine received them."""
    async with httpx.AsyncClient(base_url=await gateway.upstream_url()) as fake:
        records = {rid: (await fake.get(f"/_requests/{rid}")).json() for rid in request_ids}
    return sorted(request_ids, key=lambda rid: records[rid]["started_at"])


async def test_one_slot_three_users_alternate_and_positions_fall(one_slot: RunningGateway) -> None:
    users = [f"fair-{n}-{secrets.token_hex(3)}@example.com" for n in range(3)]
    for email in users:
        await one_slot.create_user(email)
    results = {}
    async with (
        one_slot.client() as admin,
        one_slot.login(users[0]) as a,
        one_slot.login(users[1]) as b,
        one_slot.login(users[2]) as c,
    ):
        blocker = asyncio.create_task(
            admin.post("/v1/chat/completions", json=chat_body("!slow 1.5", stream=False))
        )
        await asyncio.sleep(0.3)
        clients = {"A": a, "B": b, "C": c}
        # Three each, user A first: a plain FIFO would serve A A A B B B C C C.
        tasks = {}
        for name, n in [(name, n) for name in "ABC" for n in range(3)]:
            tasks[(name, n)] = asyncio.create_task(
                chat(clients[name], {"content": f"!tokens 3 !gap 0.05 {name}{n}"})
            )
            await asyncio.sleep(0.02)
        for key, task in tasks.items():
            results[key] = await task
        assert (await blocker).status_code == 200
    request_ids = {r.one("start")["request_id"]: key for key, r in results.items()}
    served = [request_ids[rid][0] for rid in await upstream_starts(one_slot, list(request_ids))]
    assert served == list("ABCABCABC")
    for key, result in results.items():
        positions = [e["position"] for e in result.of("queue")]
        assert positions, key
        assert positions[-1] == 1, (key, positions)  # everyone reaches the head
        # Once everyone has arrived (the blocker still runs), positions only fall.
        settled = positions[positions.index(max(positions)) :]
        assert settled == sorted(settled, reverse=True), (key, positions)
        assert all(e["estimated_wait_s"] >= 0 for e in result.of("queue"))
        assert result.one("done")["status"] == "complete"


async def test_waiting_v1_stream_gets_queue_comments_then_its_answer(
    one_slot: RunningGateway,
) -> None:
    async with one_slot.client() as client:
        blocker = asyncio.create_task(
            client.post("/v1/chat/completions", json=chat_body("!slow 1", stream=False))
        )
        await asyncio.sleep(0.3)
        started = time.monotonic()
        async with client.stream(
            "POST", "/v1/chat/completions", json=chat_body("hello")
        ) as response:
            assert response.status_code == 200
            raw = (await response.aread()).decode()
        assert time.monotonic() - started >= 0.3
        await blocker
    frames = raw.split("\n\n")
    assert frames[0] == ": queued position=1"
    assert "data: [DONE]" in frames
    text = "".join(f for f in frames if f.startswith("data: {"))
    assert "hello" in text


async def test_leaving_the_queue_or_the_engine_frees_every_slot(one_slot: RunningGateway) -> None:
    async with one_slot.client() as client:
        blocker = asyncio.create_task(
            client.post("/v1/chat/completions", json=chat_body("!slow 1", stream=False))
        )
        await asyncio.sleep(0.3)
        async with client.stream("POST", "/v1/chat/completions", json=chat_body("x")) as waiting:
            async for text in waiting.aiter_text():
                assert text.startswith(": queued position=1")
                break  # hang up while queued
        assert (await blocker).status_code == 200
        await asyncio.sleep(0.2)
        queue = one_slot.state.admission._queues["fake"]
        assert (queue.inflight, queue.waiting) == (0, 0)
        started = time.monotonic()
        response = await client.post("/v1/chat/completions", json=chat_body("y", stream=False))
        assert response.status_code == 200 and time.monotonic() - started < 1


async def test_a_full_queue_refuses_before_the_question_is_stored(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    data_dir = tmp_path_factory.mktemp("gateway-no-queue")
    profiles = data_dir / "profiles.yaml"
    profiles.write_text(fake_profiles_yaml(max_concurrency=1))
    url = f"sqlite+aiosqlite:///{data_dir / 'gpuchat.db'}"
    async with start_gateway(
        data_dir=data_dir, database_url=url, profiles=profiles, queue_max_length=0
    ) as gateway:
        await gateway.create_user("queued-out@example.com")
        async with gateway.client() as admin, gateway.login("queued-out@example.com") as user:
            blocker = asyncio.create_task(
                admin.post("/v1/chat/completions", json=chat_body("!slow 1", stream=False))
            )
            await asyncio.sleep(0.3)
            refused_chat = await user.post("/api/chat", json={"content": "are you there?"})
            refused_api = await admin.post("/v1/chat/completions", json=chat_body("hi"))
            stored = (await user.get("/api/conversations")).json()["data"]
            assert (await blocker).status_code == 200
    for refused in (refused_chat, refused_api):
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "queue_full"
        assert int(refused.headers["retry-after"]) > 0
    assert stored == []  # the question was not kept: the user can simply send it again


def _fill(admission: Admission, user: str) -> tuple[list[Ticket], GatewayError]:
    queued: list[Ticket] = []
    while True:
        try:
            queued.append(admission.enter("e", 1, user))
        except GatewayError as refused:
            return queued, refused


def test_one_users_burst_leaves_room_in_the_queue_for_others() -> None:
    """With the shipped settings, one user fills at most a share of an engine's queue."""
    settings = Settings(queue_max_length=8)
    admission = Admission(
        max_length=settings.queue_max_length,
        max_wait_s=60,
        user_share=settings.queue_user_share,
    )
    assert admission.enter("e", 1, "burst").admitted
    queued, refused = _fill(admission, "burst")
    assert refused.status == 429 and refused.code == "queue_share_exceeded"
    assert 1 <= len(queued) < settings.queue_max_length
    others = [admission.enter("e", 1, user) for user in ("b", "c", "d")]
    assert [t.position for t in others] == [2, 3, 4]  # interleaved with the burst
    queued[0].close()
    assert admission.enter("e", 1, "burst").position >= 1  # a freed place is the user's again
