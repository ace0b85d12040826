"""An engine's limit across gateway replicas: two `Admission`s sharing the local Redis
behave like two replicas in front of one engine."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable

import pytest

from gpuchat.core.errors import GatewayError
from gpuchat.services.limits.admission import Admission
from gpuchat.services.limits.queue import Ticket
from gpuchat.services.limits.slots import SharedSlots

REDIS_URL = os.environ.get("GPUCHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def replica(prefix: str, *, lease_seconds: float = 30, max_wait_s: float = 5) -> Admission:
    slots = SharedSlots(REDIS_URL, prefix=prefix, lease_seconds=lease_seconds)
    return Admission(max_length=10, max_wait_s=max_wait_s, slots=slots)


@pytest.fixture
async def two_replicas() -> AsyncIterator[tuple[Admission, Admission]]:
    prefix = f"gpuchat-test:{secrets.token_hex(4)}:"
    one, two = replica(prefix), replica(prefix)
    await one.start()
    await two.start()
    yield one, two
    await one.close()
    await two.close()


async def admitted(admission: Admission, user: str, limit: int = 2) -> Ticket:
    ticket = admission.enter("vllm", limit, user)
    await admission.wait(ticket)
    assert ticket.admitted
    return ticket


async def test_the_limit_holds_across_replicas(two_replicas: tuple[Admission, Admission]) -> None:
    one, two = two_replicas
    first, second = await admitted(one, "a"), await admitted(one, "b")

    third = await two.admit("vllm", 2, "c")  # its replica is idle, the engine is not
    assert third.running and not third.admitted
    waiting = asyncio.create_task(two.wait(third))
    await asyncio.sleep(0.3)
    assert not waiting.done()

    second.close()
    await asyncio.wait_for(waiting, 2)
    assert third.admitted
    for ticket in (first, third):
        ticket.close()


async def test_a_dead_replicas_slots_come_back_when_their_leases_end() -> None:
    prefix = f"gpuchat-test:{secrets.token_hex(4)}:"
    dying, survivor = replica(prefix, lease_seconds=1), replica(prefix)
    await survivor.start()
    try:
        await admitted(dying, "a", limit=1)  # never renewed, never given back: it "died"
        started = time.monotonic()
        ticket = await admitted(survivor, "b", limit=1)
        assert 0.5 < time.monotonic() - started < 3
        ticket.close()
    finally:
        await survivor.close()


async def test_waiting_for_a_shared_slot_is_bounded() -> None:
    prefix = f"gpuchat-test:{secrets.token_hex(4)}:"
    one, two = replica(prefix), replica(prefix, max_wait_s=0.4)
    await one.start()
    await two.start()
    try:
        held = await admitted(one, "a", limit=1)
        late = two.enter("vllm", 1, "b")
        with pytest.raises(GatewayError) as refused:
            await two.wait(late)
        assert refused.value.status == 429 and refused.value.retry_after
        assert late.closed
        held.close()
        await admitted(two, "c", limit=1)  # the refused ticket holds nothing
    finally:
        await one.close()
        await two.close()


async def test_without_redis_each_replica_keeps_its_own_limit() -> None:
    lost = Admission(
        max_length=10,
        max_wait_s=5,
        slots=SharedSlots("redis://127.0.0.1:9/0", prefix="gpuchat-test:gone:"),
    )
    await lost.start()
    try:
        started = time.monotonic()
        tickets = [await admitted(lost, "a", limit=2), await admitted(lost, "b", limit=2)]
        assert time.monotonic() - started < 2  # Redis out: nobody waits on it
        third = lost.enter("vllm", 2, "c")
        assert not third.running  # the local limit still holds
        for ticket in tickets:
            ticket.close()
        await asyncio.wait_for(lost.wait(third), 2)
        third.close()
    finally:
        await lost.close()


async def until(check: Callable[[], bool], within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.02)


async def test_positions_count_every_replicas_waiting_requests_first_come_first_served(
    two_replicas: tuple[Admission, Admission],
) -> None:
    one, two = two_replicas
    held = await admitted(one, "a", limit=1)
    b1 = await two.admit("vllm", 1, "b")  # two is idle, the engine is not
    x2 = await one.admit("vllm", 1, "x")
    b3 = await two.admit("vllm", 1, "y")
    assert [t.position for t in (b1, x2, b3)] == [1, 2, 3]
    assert not any(t.admitted for t in (b1, x2, b3))

    held.close()  # one has room of its own now, but two's request came first
    await until(lambda: b1.admitted)
    await until(lambda: (x2.position, b3.position) == (1, 2))
    assert not x2.admitted

    b1.close()
    await until(lambda: x2.admitted)
    await until(lambda: b3.position == 1)
    x2.close()
    await until(lambda: b3.admitted)
    b3.close()


async def test_a_dead_replicas_places_in_the_queue_go_with_their_leases() -> None:
    prefix = f"gpuchat-test:{secrets.token_hex(4)}:"
    dying, survivor = replica(prefix, lease_seconds=1), replica(prefix)
    await survivor.start()
    try:
        held = await admitted(survivor, "a", limit=1)
        await dying.admit("vllm", 1, "d")  # waits, never renewed: it "died"
        late = await survivor.admit("vllm", 1, "s")
        assert late.position == 2
        await until(lambda: late.position == 1, within=3)
        held.close()
        await until(lambda: late.admitted)
        late.close()
    finally:
        await survivor.close()
